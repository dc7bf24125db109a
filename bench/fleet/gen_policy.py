#!/usr/bin/env python3
"""Writes a policy with N managed hosts in 10 zones (plus the controller's host) to DIR:
zone i may reach zone i+1 on tcp/8000+i, the management zone reaches all on ssh."""
import os
import sys

out, n = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(out, "flows"), exist_ok=True)
zones = 10


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


write("settings.yaml", "settings:\n  controller: { addresses: [10.49.0.2], port: 7443 }\n  mode: enforce\n")
z = "zones:\n  - name: control\n    cidrs: [10.49.0.0/24]\n  - name: mgmt\n    cidrs: [10.48.0.0/24]\n"
for i in range(zones):
    z += f"  - name: z{i}\n    cidrs: [10.50.{i}.0/24]\n"
write("zones.yaml", z)
h = "hosts:\n  - name: controller-1\n    addresses: [10.49.0.2]\n  - name: bastion-1\n    addresses: [10.48.0.10]\n"
for k in range(n - 1):
    h += f"  - name: h{k}\n    addresses: [10.50.{k % zones}.{10 + k // zones}]\n"
write("hosts.yaml", h)
s = "services:\n  - name: ssh\n    ports: [tcp/22]\n"
for i in range(zones):
    s += f"  - name: svc{i}\n    ports: [tcp/{8000 + i}]\n"
write("services.yaml", s)
f = "flows:\n  - name: admin\n    from: mgmt\n    to: [" + ", ".join(f"z{i}" for i in range(zones)) + "]\n    services: ssh\n"
for i in range(zones):
    f += f"  - name: z{i}-to-z{(i + 1) % zones}\n    from: z{i}\n    to: z{(i + 1) % zones}\n    services: svc{i}\n"
write("flows/base.yaml", f)
