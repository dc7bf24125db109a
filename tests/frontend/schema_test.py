#!/usr/bin/env python3
"""The JSON Schema in docs/ accepts every bundled policy file and rejects
typical mistakes, so editors that use it agree with `polder check`."""
import glob
import json
import os
import sys

import jsonschema
import yaml

src = sys.argv[1]
schema = json.load(open(os.path.join(src, "docs", "policy.schema.json")))
validator = jsonschema.Draft202012Validator(schema)
passed = failed = 0


def check(name, doc, want_valid):
    global passed, failed
    errors = list(validator.iter_errors(doc))
    if (not errors) == want_valid:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}: want valid={want_valid}, errors={[e.message for e in errors][:3]}")


files = sorted(glob.glob(os.path.join(src, "policies", "**", "*.yaml"), recursive=True))
assert len(files) >= 10, files
for f in files:
    # Load timestamps as strings, as polder does.
    class Loader(yaml.SafeLoader):
        pass
    Loader.yaml_implicit_resolvers = {
        k: [r for r in v if r[0] != "tag:yaml.org,2002:timestamp"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    check(os.path.relpath(f, src), yaml.load(open(f), Loader=Loader), True)

check("unknown root key", {"servces": []}, False)
check("bad zone name", {"zones": [{"name": "Web", "cidrs": ["10.0.0.0/8"]}]}, False)
check("zone without cidrs", {"zones": [{"name": "web"}]}, False)
check("bad port item", {"services": [{"name": "x", "ports": ["tcp:443"]}]}, False)
check("two invariant kinds", {"invariants": [{"name": "x", "isolate": "a", "no_path": {"from": "a", "to": "b"}}]}, False)
check("flow without services", {"flows": [{"from": "a", "to": "b"}]}, False)
check("bad mode", {"settings": {"mode": "block"}}, False)
posture = {"name": "lockdown", "isolate": ["app-a", "app-b"],
           "allow": [{"zone": "partners", "services": ["https"]}, {"zone": "mgmt"}],
           "keep": [{"reach": {"from": "partners", "to": "app-a", "services": ["https"], "direct": True}},
                    "backup-pulls-db"],
           "owner": "ciso", "reason": "vulnerabilities"}
check("posture", {"postures": [posture]}, True)
check("posture without isolate", {"postures": [{"name": "x"}]}, False)
check("posture unknown key", {"postures": [dict(posture, alow=[])]}, False)
check("posture allow without zone", {"postures": [dict(posture, allow=[{"services": "https"}])]}, False)
check("posture keep of another kind",
      {"postures": [dict(posture, keep=[{"no_path": {"from": "a", "to": "b"}}])]}, False)
check("posture keep reach with through",
      {"postures": [dict(posture, keep=[{"reach": {"from": "a", "to": "b", "through": "c"}}])]}, False)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
