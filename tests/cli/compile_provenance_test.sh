#!/usr/bin/env bash
# `polder compile` writes each host's provenance map beside its ruleset (issue 11): with
# --host H -o FILE as FILE.provenance.json, with --out one per host listed in manifest.json.
# On the bundled shared-service policy: every counter of the ruleset is mapped, the https
# element of permits-1 to partners-to-permits (flows-partners.yaml:4), and the partner range
# to the 150 declared prefixes with the zones.yaml line of each.
# Usage: compile_provenance_test.sh POLDER SRC
set -uo pipefail
polder=$1
src=$2
policy=$src/policies/shared-service
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/../lib/expect.sh"

expect "compile --host -o" 0 "" "$polder" compile "$policy" --host permits-1 -o "$work/permits-1.nft"
expect "the map is beside the ruleset" 0 '"host": "permits-1"' cat "$work/permits-1.nft.provenance.json"
if python3 - "$work/permits-1.nft" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
j = json.load(open(sys.argv[1] + ".provenance.json"))
flows = j["flows"]
by_id = {c["counter"]: c for c in j["counters"]}
assert len(by_id) == len(j["counters"]), "a counter mapped twice"
# Every set declared with `counter` in the ruleset is in the map, element for element.
for m in re.finditer(r"\n  (?:set|map) (\S+) \{\n(.*?)\n  \}", text, re.S):
    name, body = m.group(1), m.group(2)
    if "counter" not in body.split("elements")[0] or name.startswith("seen_"):
        continue
    mapped = [c for c in j["counters"] if c["set"] == name]
    assert mapped, name
https = [c for c in j["counters"] if c["kind"] == "service" and c.get("element") == "tcp . 443"]
assert len(https) == 1, https
f = flows[https[0]["flows"][0]]
assert (f["name"], f["at"], f["action"]) == ("partners-to-permits", "flows-partners.yaml:4", "allow"), f
ranges = [c for c in j["counters"] if c["kind"] == "peer_range" and c["chain"] == https[0]["chain"]]
assert len(ranges) == 1, ranges
prefixes = ranges[0]["prefixes"]
assert len(prefixes) == 150, len(prefixes)
assert prefixes[1] == {"zone": "partners", "prefix": "198.18.1.0/24", "at": "zones.yaml:14"}, prefixes[1]
assert ranges[0]["counter"] == "in4/c6120000", ranges[0]["counter"]
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL permits-1 provenance"; fi

expect "compile --out" 0 "rulesets in" "$polder" compile "$policy" --out "$work/out"
if python3 - "$work/out" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["hosts"], m
for host, e in m["hosts"].items():
    assert e["provenance"] == e["file"] + ".provenance.json", e
    data = open(os.path.join(d, e["provenance"]), "rb").read()
    assert hashlib.sha256(data).hexdigest() == e["provenance_sha256"], host
    j = json.loads(data)
    assert j["host"] == host and j["revision"] == m["revision"], (host, j["host"])
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL --out provenance"; fi

expect_summary
