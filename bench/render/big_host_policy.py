#!/usr/bin/env python3
"""Writes the policy of issue 10's large host: ZONES client zones with 1-4 /24
prefixes each (IPv4, one in eight also with an IPv6 /64), SERVICES single-port
tcp services, and PER_ZONE random services per zone, each a flow from the zone
to host db-1 (zone `db`). The defaults give 50,000 flows and ~125,000
(prefix, service) pairs. Deterministic for a given seed.

usage: big_host_policy.py DIR [ZONES [PER_ZONE [SERVICES [SEED]]]]
then:  polder compile DIR --host db-1 > db-1.nft
"""
import os
import random
import sys

out = sys.argv[1]
zones = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
per_zone = int(sys.argv[3]) if len(sys.argv) > 3 else 25
services = int(sys.argv[4]) if len(sys.argv) > 4 else 500
rnd = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 7)
per_zone = min(per_zone, services)
os.makedirs(os.path.join(out, "flows"), exist_ok=True)


def write(name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


write("settings.yaml", "settings:\n  mode: enforce\n")
write("services.yaml", "services:\n" + "".join(
    f"  - name: s{i}\n    ports: [tcp/{1000 + i}]\n" for i in range(services)))
lines = ["zones:", "  - name: db", "    cidrs: [172.16.0.0/24]"]
block = 0
for z in range(zones):
    cidrs = []
    for _ in range(rnd.randint(1, 4)):
        cidrs.append(f"10.{block // 256 % 256}.{block % 256}.0/24")
        block += 2  # never adjacent, so no two prefixes merge into one range
    if z % 8 == 0:
        cidrs.append(f'"2001:db8:{z:x}::/64"')
    lines += [f"  - name: z{z}", f"    cidrs: [{', '.join(cidrs)}]"]
write("zones.yaml", "\n".join(lines) + "\n")
write("hosts.yaml", "hosts:\n  - name: db-1\n    addresses: [172.16.0.10]\n")
flows = ["flows:"]
for z in range(zones):
    for s in sorted(rnd.sample(range(services), per_zone)):
        flows += [f"  - from: z{z}", "    to: db", f"    services: s{s}"]
write("flows/all.yaml", "\n".join(flows) + "\n")
