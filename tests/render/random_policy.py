#!/usr/bin/env python3
"""Writes a small random polder policy (YAML) for the renderer and lab tests.

usage: random_policy.py SEED OUTDIR

Covers what the renderer must get right: nested zones (longest prefix),
IPv4 and IPv6, an external zone, overlapping port ranges, udp, icmp, `any`,
deny flows, `sources`, expired flows (with --now 2026-01-01T00:00:00Z) and
sometimes a controller, audit mode or log_denied.
"""
import os
import random
import sys

seed, out = int(sys.argv[1]), sys.argv[2]
rng = random.Random(seed)
os.makedirs(out, exist_ok=True)

zones = [("internet", True, ["0.0.0.0/0", "::/0"])]
hosts = []
n_zones = rng.randint(2, 4)
for k in range(1, n_zones + 1):
    cidrs = [f"10.{k}.0.0/24"]
    if rng.random() < 0.5:
        cidrs.append(f"2001:db8:{k}::/64")
    zones.append((f"z{k}", False, cidrs))
    for h in range(rng.randint(1, 2)):
        addrs = [f"10.{k}.0.{10 + h}"]
        if len(cidrs) > 1 and rng.random() < 0.7:
            addrs.append(f"2001:db8:{k}::{10 + h:x}")
        hosts.append((f"h{k}-{h}", f"z{k}", addrs))
if rng.random() < 0.5:  # a nested zone carved out of z1, with one host
    zones.append(("inner", False, ["10.1.0.128/25"]))
    hosts.append(("inner-0", "inner", ["10.1.0.130"]))
if rng.random() < 0.4:  # a hostless internal zone (stand-in namespace)
    zones.append(("lan", False, ["10.50.0.0/16"]))

services = {
    "web": ["tcp/443", "tcp/80"],
    "alt": [f"tcp/{rng.randint(8000, 8010)}-{rng.randint(8011, 8020)}"],
    "alt2": [f"tcp/{rng.randint(8005, 8015)}"],
    "dns": ["udp/53", "tcp/53"],
    "syslog": [f"udp/{rng.randint(500, 520)}-{rng.randint(521, 530)}"],
    "ping": ["icmp/echo-request", "icmpv6/echo-request"],
    "icmp-all": ["icmp", "icmpv6"],
}
names = [z[0] for z in zones] + [h[0] for h in hosts]
internal = [z[0] for z in zones if not z[1]] + [h[0] for h in hosts]

lines = ["zones:"]
for name, ext, cidrs in zones:
    lines.append(f"  - name: {name}")
    if ext:
        lines.append("    external: true")
    lines.append("    cidrs: [" + ", ".join(f'"{c}"' for c in cidrs) + "]")
lines.append("hosts:")
for name, zone, addrs in hosts:
    lines.append(f"  - name: {name}")
    lines.append("    addresses: [" + ", ".join(f'"{a}"' for a in addrs) + "]")
    lines.append(f"    zone: {zone}")
lines.append("services:")
for name, ports in services.items():
    lines.append(f"  - name: {name}")
    lines.append("    ports: [" + ", ".join(ports) + "]")
lines.append("flows:")
for i in range(rng.randint(3, 9)):
    src = rng.choice(names)
    dst = rng.choice(internal if src == "internet" else names)
    svcs = rng.sample(list(services) + ["any"], rng.randint(1, 2))
    lines.append(f"  - name: f{i}")
    if rng.random() < 0.2:
        lines.append("    action: deny")
    lines.append(f"    from: {src}")
    lines.append(f"    to: {dst}")
    lines.append("    services: [" + ", ".join(svcs) + "]")
    if rng.random() < 0.2:
        lines.append("    sources: [10.1.0.0/25, \"2001:db8:1::/64\", 203.0.113.0/24]")
    if rng.random() < 0.15:
        lines.append("    expires: 2025-06-01T00:00:00Z")
if rng.random() < 0.5:
    ctl = rng.choice(hosts)
    lines.append("settings:")
    lines.append(f"  controller: {{ addresses: [{ctl[2][0]}], port: 7443 }}")
    if rng.random() < 0.3:
        lines.append("  log_denied: true")
    if rng.random() < 0.15:
        lines.append("  mode: audit")
with open(os.path.join(out, "policy.yaml"), "w") as f:
    f.write("\n".join(lines) + "\n")
