#!/bin/bash
# `polder lab drill` end to end: a real controller and real agents (tests/fleet/lib.sh) in
# namespaces this test makes (pt-<pid>-*), the posture activated through the controller, the
# full probe table against the posture's effective policy, the release, the table again.
#   agree     the drill exits 0 and its JSON report (docs/drill-report.md) says every host
#             enforced, both tables agree, the revisions are the controller's; the posture is
#             released afterwards
#   disagree  a foreign table in app-1's namespace drops ssh, which the posture keeps: the
#             drill exits 1 and names that case, and still releases the posture
# usage: drill_e2e.sh SCENARIO POLDER POLDER_CONTROLLER POLDER_AGENT SOURCE_DIR
set -euo pipefail
scenario=$1
export POLDER=$2 POLDER_CONTROLLER=$3 POLDER_AGENT=$4
src=$5
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
# shellcheck source=../fleet/lib.sh
. "$src/tests/fleet/lib.sh"

fleet_init "pt-$$-"
cp -r "$src/tests/lab/drill" "$FLEET_DIR/policy"
fleet_network "$FLEET_DIR/policy"
fleet_pki
fleet_controller_start
fleet_agents_start
fleet_wait_converged 20 || fleet_die "agents did not converge within 20 s"
normal=$(fleet_revision)
admin="$FLEET_DIR/pki/admins/fleet-test"
report="$FLEET_DIR/drill.json"

if [ "$scenario" = disagree ]; then
  # A table polder does not own, so no agent restores it: it drops ssh to app-1.
  ip netns exec "$(fleet_ns app-1)" nft -f - <<'NFT'
table inet drill_tamper {
  chain input { type filter hook input priority -10; tcp dport 22 drop; }
}
NFT
fi

set +e
"$POLDER" lab drill "$FLEET_DIR/policy" lockdown --name fleet --tls-dir "$admin" \
  --timeout-ms 300 --format json -o "$report" >"$FLEET_DIR/drill.out" 2>"$FLEET_DIR/drill.err"
rc=$?
set -e
cat "$FLEET_DIR/drill.out"
[ -s "$FLEET_DIR/drill.err" ] && cat "$FLEET_DIR/drill.err" >&2
[ -s "$report" ] || fleet_die "no drill report (exit $rc)"
fleet_log "drill exit $rc: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))
print("activate", r["activate"]["enforced_ms"], "ms; release", r["release"]["enforced_ms"], "ms")' "$report")"

hosts=$(fleet_hosts | sort | tr '\n' ' ')
python3 - "$report" "$scenario" "$rc" "$normal" "$hosts" <<'PY' || fleet_die "the drill report is wrong"
import json, re, sys
path, scenario, rc, normal, hosts = sys.argv[1:6]
r = json.load(open(path))
hex64 = re.compile("^[0-9a-f]{64}$")
def need(cond, what):
    if not cond:
        sys.exit(f"drill report: {what}\n{json.dumps(r, indent=2)}")
need(r["policy_revision"] == normal, "policy_revision is not the revision the controller served")
need(r["posture"] == "lockdown", "posture")
need(hex64.match(r["posture_revision"]) and r["posture_revision"] != normal, "posture_revision")
need(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", r["started"]), "started is RFC 3339")
for step in ("activate", "release"):
    t = r[step]
    need(isinstance(t["enforced_ms"], int) and 0 <= t["enforced_ms"] <= t["timeout_ms"],
         f"{step}.enforced_ms")
    need(sorted(h["host"] for h in t["hosts"]) == hosts.split(), f"{step}.hosts lists every host")
    need(max(h["enforced_ms"] for h in t["hosts"]) == t["enforced_ms"],
         f"{step}.enforced_ms is the slowest host's")
    need(isinstance(t["resolution_ms"], int) and 0 < t["resolution_ms"] <= t["enforced_ms"],
         f"{step}.resolution_ms is the longest wait between looks, within enforced_ms")
for step in ("probe_posture", "probe_normal"):
    p = r[step]
    need(p["cases"] > 0 and p["cases"] == p["probed"] + p["skipped"], f"{step} counts")
    need(p["disagree"] == len(p["disagreements"]), f"{step}.disagree")
if scenario == "agree":
    need(rc == "0", f"exit status {rc}")
    need(r["agree"] is True, "agree")
    for step in ("probe_posture", "probe_normal"):
        need(r[step]["disagree"] == 0, f"{step} disagrees")
else:
    need(rc == "1", f"exit status {rc}, want 1")
    need(r["agree"] is False, "agree should be false")
    want = {"from": "mgmt-1", "to": "app-1", "protocol": "tcp", "port": 22,
            "expected": "allowed", "observed": "blocked"}
    for step in ("probe_posture", "probe_normal"):
        need(want in r[step]["disagreements"], f"{step} does not name the tampered case")
print("drill report ok")
PY

# Whatever the outcome, the drill leaves the posture released and the normal policy served.
fleet_status | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["posture"] is None, s["posture"]
assert s["revision"] == sys.argv[1], (s["revision"], sys.argv[1])' "$normal" ||
  fleet_die "the posture was not released after the drill"
fleet_log "PASS drill $scenario"
