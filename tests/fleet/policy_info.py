#!/usr/bin/env python3
"""Reads what the fleet harness needs from a policy directory:
  controller DIR  ADDRESS PORT (the first controller address of settings)"""
import glob
import os
import sys

import yaml


def load(d):
    doc = {"settings": {}}
    for path in sorted(glob.glob(os.path.join(d, "**", "*.yaml"), recursive=True)):
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        doc["settings"].update(data.get("settings") or {})
    return doc


def main():
    cmd, d = sys.argv[1], sys.argv[2]
    doc = load(d)
    if cmd == "controller":
        c = doc["settings"]["controller"]
        print(str(c["addresses"][0]), c.get("port", 7443))
    else:
        sys.exit("unknown command " + cmd)


main()
