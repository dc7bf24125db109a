#!/usr/bin/env bash
# End-to-end: an agent that cannot store its last good ruleset says so, and `polder status`
# shows it (issue 13.3). One network namespace of the test's own (pt-<pid>-1) holds a controller
# on its loopback and the agent for db-1 of the bundled policy, whose --state-dir lies below a
# regular file, so the ruleset it enforces cannot be stored. The host must show as degraded
# (store-error) in `polder status --format json` and in the text's HEALTH column, while its
# ruleset is applied all the same; `polder status --errors` gives the whole reason.
#
# Usage: degraded_e2e.sh POLDER POLDER_CONTROLLER POLDER_AGENT POLICY_DIR
# Needs root; touches only the namespace it makes, removed on exit (also on failure).
set -euo pipefail
POLDER=$1 CONTROLLER=$2 POLICY=$4
export AGENT=$3
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
# shellcheck source=../agent/lib.sh
. "$(cd "$(dirname "$0")/../agent" && pwd)/lib.sh"

new_ns NS
PORT=7443
cp -r "$POLICY" "$WORK/policy"
ip netns exec "$NS" "$CONTROLLER" --policy "$WORK/policy" --listen "127.0.0.1:$PORT" --insecure \
  --state "$WORK/controller.db" >"$WORK/controller.log" 2>&1 &
PIDS+=($!)

status() {  # polder status ARGS... against the namespace's controller
  ip netns exec "$NS" "$POLDER" status --controller "127.0.0.1:$PORT" --insecure "$@" 2>/dev/null
}
for i in $(seq 100); do
  status --format json >/dev/null && break
  [ "$i" = 100 ] && fail "controller did not answer within 10 s: $(tail -5 "$WORK/controller.log")"
  sleep 0.1
done

# The state directory's parent is a regular file: nothing can ever be stored there.
echo "not a directory" >"$WORK/file"
ip netns exec "$NS" "$AGENT" --controller "127.0.0.1:$PORT" --host db-1 --insecure \
  --state-dir "$WORK/file/state" >"$WORK/agent.jsonl" 2>"$WORK/agent.stderr" &
PIDS+=($!)

# Waits (at most 20 s) until db-1 is connected, applied == desired, and degraded with a
# store-error; prints that store-error.
seen=""
for i in $(seq 200); do
  seen=$(status --format json | python3 -c '
import json, sys
s = json.load(sys.stdin)
for h in s["hosts"]:
    if h["host"] != "db-1":
        continue
    ok = h["connected"] and h["applied_revision"] == h["desired_revision"] == s["revision"]
    errors = [d for d in h["degraded"] if d.startswith("store-error: ")]
    if ok and errors:
        print(errors[0])
' || true)
  [ -n "$seen" ] && break
  sleep 0.1
done
[ -n "$seen" ] || fail "polder status never showed db-1 applied and degraded: $(status --format json)"
pass "status --format json: db-1 degraded: $seen"
case $seen in *"$WORK/file"*) ;; *) fail "the store-error does not name the state directory: $seen" ;; esac
grep -q '"event":"store-error"' "$WORK/agent.jsonl" || fail "the agent did not log store-error"
# Enforced all the same: the controller's ruleset is in the kernel.
in_ns "$NS" nft list table inet polder >/dev/null || fail "db-1's table is not in the kernel"

text=$(status)
echo "$text" | grep -q ' HEALTH ' || fail "no HEALTH column: $text"
echo "$text" | grep -E '^db-1 ' | grep -q 'store-error' || fail "db-1's row does not say store-error: $text"
pass "status (text): $(echo "$text" | grep -E '^db-1 ')"
# Other hosts have no agent: not degraded, just not connected.
echo "$text" | grep -E '^app-1 ' | grep -q ' ok ' || fail "app-1 should be ok (not connected): $text"

errors=$(status --errors)
echo "$errors" | grep -qF "host db-1: degraded: $seen" || fail "status --errors lacks the full reason: $errors"
pass "status --errors: $(echo "$errors" | grep -F 'host db-1: degraded')"
