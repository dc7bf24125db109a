#!/usr/bin/env python3
"""Writes a policy with N managed hosts (h00000, h00001, ...) in 10 zones of /16 each, plus the
controllers' zone, to DIR. Zone i may reach zone i+1 on tcp/8000+i; the management zone reaches
every zone on the `admin` service, tcp/ADMIN_PORT (default 22): changing ADMIN_PORT is a
one-flow change that changes every host's ruleset.

    gen_fleet_policy.py DIR N [ADMIN_PORT]
"""
import os
import sys

out, n = sys.argv[1], int(sys.argv[2])
admin_port = int(sys.argv[3]) if len(sys.argv) > 3 else 22
zones = 10
os.makedirs(out, exist_ok=True)


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


def address(k):
    i, j = k % zones, k // zones + 10  # at most 250 * 250 hosts per zone
    return f"10.{50 + i}.{j // 250}.{j % 250 + 2}"


write("settings.yaml", "settings:\n  controller: { addresses: [10.49.0.2], port: 7443 }\n  mode: enforce\n")
z = ["zones:", "  - name: control", "    cidrs: [10.49.0.0/24]", "  - name: mgmt", "    cidrs: [10.48.0.0/24]"]
for i in range(zones):
    z += [f"  - name: z{i}", f"    cidrs: [10.{50 + i}.0.0/16]"]
write("zones.yaml", "\n".join(z) + "\n")
h = ["hosts:", "  - name: controller-1", "    addresses: [10.49.0.2]"]
for k in range(n):
    h += [f"  - name: h{k:05d}", f"    addresses: [{address(k)}]"]
write("hosts.yaml", "\n".join(h) + "\n")
s = ["services:", "  - name: admin", f"    ports: [tcp/{admin_port}]"]
for i in range(zones):
    s += [f"  - name: svc{i}", f"    ports: [tcp/{8000 + i}]"]
write("services.yaml", "\n".join(s) + "\n")
f = ["flows:", "  - name: admin", "    from: mgmt", "    to: [" + ", ".join(f"z{i}" for i in range(zones)) + "]",
     "    services: admin"]
for i in range(zones):
    f += [f"  - name: z{i}-to-z{(i + 1) % zones}", f"    from: z{i}", f"    to: z{(i + 1) % zones}",
          f"    services: svc{i}"]
write("flows.yaml", "\n".join(f) + "\n")
