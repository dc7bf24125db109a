#!/bin/bash
# A lab with its own controller, as a user runs it from the README, in namespaces this test
# names (prefix lc-<pid>-):
#   1. `polder lab drill DIR POSTURE` with no lab up brings one up with its own controller
#      (PKI, mutual TLS, agents under it), drills, and removes it again: exit 0, a report that
#      agrees, and no namespace or lab directory left behind;
#   2. `polder lab up DIR --with-controller` stays up: `lab probe` with no flags compares with
#      what that controller enforces (not the files), a quarantine through the lab's admin
#      certificate shows in the probe, and `lab down` stops the controller and the agents.
# usage: lab_controller_e2e.sh POLDER SOURCE_DIR
set -euo pipefail
polder=$1 src=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
work=$(mktemp -d)
prefix="lc-$$-"
name="lc$$"
cleanup() {
  "$polder" lab down --name "$name" --ns-prefix "$prefix" >/dev/null 2>&1 || true
  "$polder" lab down --name "${name}d" --ns-prefix "$prefix" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
policy="$src/tests/lab/drill"
netns_left() { ip netns list | awk '{print $1}' | grep -c "^$prefix" || true; }

# 1. A drill with no lab up.
set +e
"$polder" lab drill "$policy" lockdown --name "${name}d" --ns-prefix "$prefix" --timeout-ms 300 \
  --format json -o "$work/drill.json" >"$work/drill.out" 2>"$work/drill.err"
rc=$?
set -e
cat "$work/drill.out" "$work/drill.err"
[ "$rc" = 0 ] || fail "drill without a lab exited $rc"
grep -q "bringing one up with its own controller" "$work/drill.err" || fail "drill did not say it brought a lab up"
python3 - "$work/drill.json" <<'PY' || fail "drill report"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["agree"] is True, r
assert r["probe_posture"]["probed"] > 0 and r["probe_normal"]["probed"] > 0, r
assert len(r["activate"]["hosts"]) == 4, r["activate"]
PY
[ "$(netns_left)" = 0 ] || fail "the drill's own lab left $(netns_left) namespaces"
[ ! -e "/run/polder-lab/${name}d" ] || fail "the drill's own lab left its directory"

# 1b. A drill killed after it brought its lab up: the next drill removes that lab (it is not
# the user's) and drills in a fresh one.
"$polder" lab drill "$policy" lockdown --name "${name}d" --ns-prefix "$prefix" --timeout-ms 300 \
  >"$work/killed.out" 2>&1 &
drill_pid=$!
for _ in $(seq 300); do
  grep -q '"owner_pid"' "/run/polder-lab/${name}d/state.json" 2>/dev/null &&
    grep -q '"controller"' "/run/polder-lab/${name}d/state.json" && break
  sleep 0.1
done
grep -q '"controller"' "/run/polder-lab/${name}d/state.json" || fail "the drill's lab never came up"
kill -9 "$drill_pid"
wait "$drill_pid" 2>/dev/null || true
[ "$(netns_left)" != 0 ] || fail "the killed drill left nothing to clean up (test is wrong)"
"$polder" lab drill "$policy" lockdown --name "${name}d" --ns-prefix "$prefix" --timeout-ms 300 \
  >"$work/again.out" 2>"$work/again.err" || { cat "$work/again.out" "$work/again.err"; fail "drill after a killed one"; }
grep -q "left by an interrupted drill (pid $drill_pid); removing it" "$work/again.err" ||
  { cat "$work/again.err"; fail "the next drill did not remove the interrupted drill's lab"; }
[ "$(netns_left)" = 0 ] || fail "namespaces left after the drill that cleaned up"
pgrep -f "polder-controller --policy $policy" >/dev/null && fail "the interrupted drill's controller still runs"

# 2. A lab that stays up with its controller.
"$polder" lab up "$policy" --name "$name" --ns-prefix "$prefix" --with-controller >"$work/up.out"
cat "$work/up.out"
grep -q "polder-controller listens on 10.30.0.2:7443" "$work/up.out" || fail "lab up does not name its controller"
admin=$(sed -n 's/.*admin certificate \(.*\)$/\1/p' "$work/up.out")
[ -f "$admin/admin.crt" ] || fail "no admin certificate at '$admin'"
"$polder" lab probe "$policy" --name "$name" --timeout-ms 300 --format json >"$work/probe.json" ||
  fail "probe of the controller lab disagrees (exit $?)"
python3 - "$work/probe.json" <<'PY' || fail "probe did not compare with the controller"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["compared_with"].startswith("what controller 10.30.0.2:7443 enforces"), r["compared_with"]
assert r["disagreements"] == 0, r["disagreements"]
PY
# A quarantine through the lab's controller: the probe (which asks the controller) must see
# app-1 cut off from the office and still agree; a probe against the files would disagree.
ctl_ns=$(sed -n 's/.* in \([^;]*\); admin certificate.*/\1/p' "$work/up.out")
ip netns exec "$ctl_ns" "$polder" quarantine --controller 10.30.0.2:7443 --tls-dir "$admin" apps \
  --allow mgmt --reason "lab_controller_e2e" >/dev/null
ok=0
for _ in $(seq 100); do
  if "$polder" lab probe "$policy" --name "$name" --timeout-ms 300 --format json >"$work/q.json" 2>/dev/null; then
    if python3 - "$work/q.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rows = [p for p in r["probes"] if p["source"] == "pc-1" and p["destination"] == "app-1"
        and p["service"] == "tcp/443"]
sys.exit(0 if "quarantine of apps" in r["compared_with"] and rows
         and all(p["expected"] == "blocked" and p["agrees"] for p in rows) else 1)
PY
    then ok=1; break; fi
  fi
  sleep 0.1
done
[ "$ok" = 1 ] || { cat "$work/q.json"; fail "the probe did not follow the controller's quarantine"; }
"$polder" lab down --name "$name" --ns-prefix "$prefix" >"$work/down.out"
cat "$work/down.out"
grep -q "stopped 4 agents and the controller" "$work/down.out" || fail "lab down does not say it stopped the agents and the controller"
[ "$(netns_left)" = 0 ] || fail "lab down left namespaces"
pgrep -f "polder-controller --policy $policy" >/dev/null && fail "lab down left the controller running"
echo "PASS"
