#!/usr/bin/env python3
"""Reads `nft -s list table ...` on stdin and prints its configuration only: the elements of
dynamic sets (the observation sets of docs/traffic.md, filled by traffic) are left out, so that
two listings of one ruleset compare equal whatever traffic passed in between."""
import sys

in_set = dynamic = skipping = False
held = []  # a set's lines until its flags say whether it is dynamic
for line in sys.stdin:
    text = line.strip()
    if skipping:
        if text.endswith("}"):
            skipping = False
        continue
    if text.startswith("set ") and text.endswith("{"):
        in_set, dynamic = True, False
    elif in_set and text.startswith("flags ") and "dynamic" in text:
        dynamic = True
    elif in_set and dynamic and text.startswith("elements = {"):
        skipping = not text.endswith("}")
        continue
    elif in_set and text == "}":
        in_set = False
    sys.stdout.write(line)
