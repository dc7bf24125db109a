#!/usr/bin/env python3
"""Checks a `polder lab probe --format json` table against the lab and the policy it probed.

usage: probe_table.py STATE_JSON POLICY_DIR PROBE_JSON EXIT_STATUS [--complete]

What it holds `lab probe` to (issue 9): the table is complete, every (source address,
destination address) pair of the lab that something enforces has every port class of its
family, every tcp/udp port a service or the controller names falls in a probed class of
every pair, the counts in the summary are those of the rows, nothing disagrees, and the exit
status is 0 unless something disagrees or (with --complete) something was skipped.
"""
import glob
import ipaddress
import json
import os
import sys

import yaml


def fail(msg):
    sys.exit("probe table: " + msg)


def named_ports(policy_dir):
    """(protocol, lo, hi) of every tcp/udp item of every service, and the controller's port."""
    out = []
    for path in sorted(glob.glob(os.path.join(policy_dir, "**", "*.yaml"), recursive=True)):
        with open(path) as f:
            doc = yaml.safe_load(f) or {}
        for svc in doc.get("services") or []:
            for item in svc.get("ports") or []:
                proto, _, ports = str(item).partition("/")
                if proto in ("tcp", "udp") and ports:
                    lo, _, hi = ports.partition("-")
                    out.append((proto, int(lo), int(hi or lo)))
        ctl = (doc.get("settings") or {}).get("controller")
        if ctl:
            out.append(("tcp", int(ctl.get("port", 7443)), int(ctl.get("port", 7443))))
    return out


def class_members(label):
    """'tcp/1-52,54-65535 (ports no service names)' -> ('tcp', [(1, 52), (54, 65535)])."""
    proto, _, rest = label.partition("/")
    ranges = []
    for part in rest.split(" ")[0].split(","):
        lo, _, hi = part.partition("-")
        ranges.append((int(lo), int(hi or lo)))
    return proto, ranges


def main():
    state_path, policy_dir, probe_path, status = sys.argv[1:5]
    complete = "--complete" in sys.argv[5:]
    state = json.load(open(state_path))
    table = json.load(open(probe_path))
    rows = table["probes"]

    # The counts of the summary are those of the rows.
    probed = [r for r in rows if r["observed"] != "not probed"]
    if table["cases"] != len(rows):
        fail(f"cases {table['cases']} but {len(rows)} rows")
    if table["probed"] != len(probed) or table["skipped"] != len(rows) - len(probed):
        fail(f"probed {table['probed']} / skipped {table['skipped']} but rows say "
             f"{len(probed)} / {len(rows) - len(probed)}")
    if sum(s["cases"] for s in table["skips"]) != table["skipped"]:
        fail("the skip reasons do not add up to the skipped count")
    bad = [r for r in probed if not r["agrees"]]
    if table["disagreements"] != len(bad):
        fail("disagreements count differs from the rows")
    if bad:
        fail(f"{len(bad)} disagree, e.g. {bad[0]}")
    for r in rows:
        if (r["observed"] == "not probed") != (r["service"] is None):
            fail(f"a row is probed without a service, or the other way round: {r}")

    # Every pair something enforces is there, with every class of its family.
    fam = lambda a: ipaddress.ip_address(a).version
    want_pairs = set()
    eps = state["endpoints"]
    for s in eps:
        for d in eps:
            if s is d or not (s["managed"] or d["managed"]):
                continue
            for sa in s["addresses"]:
                for da in d["addresses"]:
                    if fam(sa) == fam(da):
                        want_pairs.add((sa, da))
    classes = {}
    for r in rows:
        classes.setdefault((r["source_address"], r["destination_address"]), []).append(r["class"])
    if set(classes) != want_pairs:
        missing = want_pairs - set(classes)
        fail(f"pairs missing from the table: {sorted(missing)[:5]} (of {len(missing)}); "
             f"extra: {sorted(set(classes) - want_pairs)[:5]}")
    per_family = {}
    for (sa, _), labels in classes.items():
        if len(labels) != len(set(labels)):
            fail(f"a class is listed twice for {sa}")
        per_family.setdefault(fam(sa), set(labels))
        if set(labels) != per_family[fam(sa)]:
            fail(f"pair from {sa} has classes {sorted(labels)}, others {sorted(per_family[fam(sa)])}")

    # Every named tcp/udp port lies in a probed class of every pair.
    named = named_ports(policy_dir)
    probed_classes = {}
    for r in probed:
        probed_classes.setdefault((r["source_address"], r["destination_address"]), []).append(
            class_members(r["class"]) if r["class"].split("/")[0] in ("tcp", "udp") else None)
    for pair in want_pairs:
        got = [c for c in probed_classes.get(pair, []) if c]
        for proto, lo, hi in named:
            for port in (lo, hi):
                if not any(p == proto and any(a <= port <= b for a, b in m) for p, m in got):
                    fail(f"{proto}/{port} is named but not probed from {pair[0]} to {pair[1]}")

    want_status = 1 if bad or (complete and table["skipped"]) else 0
    if int(status) != want_status:
        fail(f"exit status {status}, want {want_status} (skipped {table['skipped']}, "
             f"complete={complete})")
    print(f"probe table ok: {table['cases']} cases, {table['probed']} probed, "
          f"{table['skipped']} skipped, {len(named)} named port items covered")


main()
