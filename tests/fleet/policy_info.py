#!/usr/bin/env python3
"""Reads what the fleet harness needs from a policy directory:
  hosts DIR       one line per host: NAME ADDRESS...
  controller DIR  ADDRESS PORT (the first controller address of settings)
  zone DIR HOST   the zone a host belongs to (explicit, or the most specific CIDR)"""
import glob
import ipaddress
import os
import sys

import yaml


def load(d):
    doc = {"hosts": [], "zones": [], "settings": {}}
    for path in sorted(glob.glob(os.path.join(d, "**", "*.yaml"), recursive=True)):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        for key in ("hosts", "zones"):
            doc[key] += data.get(key) or []
        doc["settings"].update(data.get("settings") or {})
    return doc


def zone_of(doc, host):
    if host.get("zone"):
        return host["zone"]
    addr = ipaddress.ip_address(str(host["addresses"][0]))
    best, best_len = None, -1
    for z in doc["zones"]:
        for c in z.get("cidrs") or []:
            net = ipaddress.ip_network(str(c), strict=False)
            if addr.version == net.version and addr in net and net.prefixlen > best_len:
                best, best_len = z["name"], net.prefixlen
    return best


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    doc = load(d)
    if cmd == "hosts":
        for h in doc["hosts"]:
            print(h["name"], *[str(a) for a in h.get("addresses") or []])
    elif cmd == "controller":
        c = doc["settings"]["controller"]
        print(str(c["addresses"][0]), c.get("port", 7443))
    elif cmd == "zone":
        for h in doc["hosts"]:
            if h["name"] == sys.argv[3]:
                print(zone_of(doc, h))
    else:
        sys.exit("unknown command " + cmd)


main()
