#!/usr/bin/env python3
"""The fleet as several controllers see it, from their `polder status --format json` files:

  view.py where FILE...     HOST CONTROLLER_INDEX per connected host (index = FILE's position, 1-based)
  view.py converged REV FILE...
                            exit 0 when every host of the files (or of $HA_HOSTS) is connected to exactly one
                            controller with applied == desired == that controller's revision, every
                            controller serves the same revision, and it differs from REV ("" for any)
  view.py applied HOST REV FILE...
                            exit 0 when HOST is connected somewhere with applied revision REV
"""
import json
import sys


def load(files):
    out = []
    for f in files:
        try:
            with open(f) as fh:
                out.append(json.load(fh))
        except (OSError, ValueError):
            out.append(None)
    return out


def main():
    cmd = sys.argv[1]
    if cmd == "where":
        for i, s in enumerate(load(sys.argv[2:]), 1):
            for h in (s or {}).get("hosts", []):
                if h["connected"]:
                    print(h["host"], i)
        return 0
    if cmd == "converged":
        old, statuses = sys.argv[2], [s for s in load(sys.argv[3:]) if s is not None]
        if not statuses:
            return 1
        revs = {s["revision"] for s in statuses}
        if len(revs) != 1 or (old and old in revs):
            return 1
        hosts, connected = set(), {}
        for s in statuses:
            for h in s["hosts"]:
                hosts.add(h["host"])
                if h["connected"]:
                    ok = h["applied_revision"] == h["desired_revision"] == s["revision"]
                    connected.setdefault(h["host"], []).append(ok)
        return 0 if all(connected.get(h) == [True] for h in WANT or hosts) else 1
    if cmd == "applied":
        host, rev = sys.argv[2], sys.argv[3]
        for s in load(sys.argv[4:]):
            for h in (s or {}).get("hosts", []):
                if h["host"] == host and h["connected"] and h["applied_revision"] == rev:
                    return 0
        return 1
    sys.exit("unknown command " + cmd)


WANT = None
if __name__ == "__main__":
    import os

    if os.environ.get("HA_HOSTS"):
        WANT = set(os.environ["HA_HOSTS"].split())
    sys.exit(main())
