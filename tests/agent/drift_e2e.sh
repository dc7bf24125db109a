#!/usr/bin/env bash
# polder-agent in a namespace: every kind of tampering with table inet polder from another
# process is reported as one JSON drift line and undone; foreign tables are reported and left
# alone; a killed agent leaves the table and a restarted one adopts it without rewriting it;
# a hostile or invalid ruleset is refused and the last good one stays.
# Usage: drift_e2e.sh PATH_TO_POLDER_AGENT   (root)
AGENT=$1
source "$(dirname "$0")/lib.sh"

new_ns NS
OUT=$WORK/drift.jsonl
"$HERE/make_ruleset.py" db-1 5432,6432 one >"$WORK/r1.nft"
start_agent "$NS" "$OUT" "$WORK/r1.nft" --full-check-interval 600
wait_events "$OUT" applied 1
ORIGINAL=$(polder_listing "$NS")
grep -q '"host":"db-1"' "$OUT" || fail "applied event lacks the host"
grep -q "\"hash\":\"$(sha256sum "$WORK/r1.nft" | cut -d' ' -f1)\"" "$OUT" || fail "hash is not the file's SHA-256"
pass "applied"

n=0
tamper() {  # tamper DESCRIPTION EXPECTED_DIFF_SUBSTRING NFT_ARGS...
  local what=$1 expect=$2; shift 2
  in_ns "$NS" nft "$@"
  n=$((n + 1))
  wait_events "$OUT" drift "$n"
  wait_events "$OUT" restored "$n"
  local line
  line=$(grep '"event":"drift"' "$OUT" | tail -1)
  grep -qF -- "$expect" <<<"$line" || fail "$what: drift line lacks '$expect': $line"
  grep -q '"pid":[1-9]' <<<"$line" || fail "$what: drift line lacks the pid: $line"
  grep -q '"time":"20[0-9][0-9]-' <<<"$line" || fail "$what: drift line lacks the time"
  [ "$(polder_listing "$NS")" = "$ORIGINAL" ] || fail "$what: table not restored"
  pass "$what detected, reported and restored"
}

tamper "added accept rule" "+ table inet polder > chain input: tcp dport 22 accept" \
  add rule inet polder input tcp dport 22 accept
HANDLE=$(in_ns "$NS" nft -a list chain inet polder input | awk '/iif "lo" accept/ {print $NF}')
tamper "deleted rule" '- table inet polder > chain input: iif \"lo\" accept' \
  delete rule inet polder input handle "$HANDLE"
tamper "deleted set element" "- table inet polder > set in_allow_v4: elements" \
  delete element inet polder in_allow_v4 '{ 10.1.0.0/24 . tcp . 5432 }'
tamper "flushed table" "- table inet polder > chain input: ct state established,related accept" \
  flush table inet polder
tamper "deleted table" "table deleted" delete table inet polder
tamper "policy changed" "policy accept" \
  add chain inet polder input '{ type filter hook input priority filter; policy accept; }'

in_ns "$NS" nft add table ip intruder
in_ns "$NS" nft add chain ip intruder in '{ type filter hook input priority -10; policy accept; }'
wait_events "$OUT" foreign_table 1
grep '"event":"foreign_table"' "$OUT" | grep -c '"table":"ip intruder/in"' >/dev/null || fail "foreign table not named"
in_ns "$NS" nft list table ip intruder >/dev/null || fail "foreign table was touched"
[ "$(polder_listing "$NS")" = "$ORIGINAL" ] || fail "polder table changed after foreign table"
[ "$(count_events "$OUT" drift)" -eq "$n" ] || fail "foreign table counted as polder drift"
in_ns "$NS" nft delete table ip intruder
pass "foreign table reported and left alone"

# Hostile and kernel-invalid rulesets through SIGHUP: refused, last good stays.
printf '# polder ruleset host=db-1 revision=%064d mode=enforce\nflush ruleset\n' 0 >"$WORK/hostile.nft"
cp "$WORK/hostile.nft" "$WORK/r1.nft"
kill -HUP "$AGENT_PID"
wait_events "$OUT" error 1
grep '"event":"error"' "$OUT" | tail -1 | grep -c "flush ruleset" >/dev/null || fail "hostile error unclear"
"$HERE/make_ruleset.py" db-1 5432 two | sed 's/@in_allow_v4/@no_such_set/' >"$WORK/r1.nft"
kill -HUP "$AGENT_PID"
wait_events "$OUT" error 2
[ "$(polder_listing "$NS")" = "$ORIGINAL" ] || fail "rejected ruleset changed the table"
# The last good one is still what gets restored.
tamper "deleted table after refusals" "table deleted" delete table inet polder
pass "hostile and invalid rulesets refused, last good kept"

# kill -9 leaves the table; a restarted agent adopts it without a single transaction.
TABLE_HANDLE_BEFORE=$(in_ns "$NS" nft -a list table inet polder | sed -n 1p)
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
[ "$(polder_listing "$NS")" = "$ORIGINAL" ] || fail "table changed when the agent was killed"
"$HERE/make_ruleset.py" db-1 5432,6432 one >"$WORK/r1.nft"
ip netns exec "$NS" timeout 20 nft monitor >"$WORK/monitor.txt" 2>&1 &
MON=$!
PIDS+=("$MON")
# A marker transaction the monitor must show: it is subscribed (so it sees what follows), and
# after the adoption a second marker proves every earlier transaction reached it.
monitor_marker() {
  in_ns "$NS" nft add table inet "$1"
  in_ns "$NS" nft delete table inet "$1"
  for _ in $(seq 100); do grep -q "table inet $1" "$WORK/monitor.txt" && return 0; sleep 0.05; done
  fail "nft monitor never showed marker $1"
}
for _ in $(seq 100); do
  in_ns "$NS" nft add table inet pt_subscribed 2>/dev/null
  in_ns "$NS" nft delete table inet pt_subscribed 2>/dev/null
  grep -q "table inet pt_subscribed" "$WORK/monitor.txt" && break
  sleep 0.05
done
grep -q "table inet pt_subscribed" "$WORK/monitor.txt" || fail "nft monitor never subscribed"
OUT2=$WORK/restart.jsonl
start_agent "$NS" "$OUT2" "$WORK/r1.nft" --full-check-interval 600
wait_events "$OUT2" adopted 1
monitor_marker pt_after_adopt
kill "$MON" 2>/dev/null || true
wait "$MON" 2>/dev/null || true
[ "$(in_ns "$NS" nft -a list table inet polder | sed -n 1p)" = "$TABLE_HANDLE_BEFORE" ] || fail "table was recreated"
# Only the markers (made by nft) may have committed anything.
grep "new generation" "$WORK/monitor.txt" | grep -v "(nft)" && fail "adopting changed the ruleset: $(cat "$WORK/monitor.txt")"
[ "$(count_events "$OUT2" applied)" -eq 0 ] || fail "restarted agent re-applied"
pass "kill -9 leaves the table, restart adopts it without a transaction"

# A restarted agent with a different ruleset replaces the table (atomically) and still watches.
"$HERE/make_ruleset.py" db-1 5432 three >"$WORK/r1.nft"
kill -HUP "$AGENT_PID"
wait_events "$OUT2" applied 1
grep -q 6432 <<<"$(polder_listing "$NS")" && fail "new ruleset not applied"
in_ns "$NS" nft add rule inet polder output accept
wait_events "$OUT2" restored 1
pass "new ruleset applied after adoption, drift still restored"

# SIGTERM: clean exit, table stays.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $? on SIGTERM"
in_ns "$NS" nft list table inet polder >/dev/null || fail "table removed on exit"
pass "SIGTERM leaves the table"

# --no-remediate: reported, not restored.
OUT3=$WORK/noremediate.jsonl
start_agent "$NS" "$OUT3" "$WORK/r1.nft" --no-remediate --full-check-interval 600
wait_events "$OUT3" adopted 1
in_ns "$NS" nft add rule inet polder input tcp dport 23 accept
wait_events "$OUT3" drift 1
# A second tamper is the marker: the agent handles changes in order, so once it reports this
# one, a restore of the first would already have happened.
in_ns "$NS" nft add rule inet polder input tcp dport 24 accept
wait_events "$OUT3" drift 2
grep -q "tcp dport 23 accept" <<<"$(polder_listing "$NS")" || fail "--no-remediate restored anyway"
grep -q "tcp dport 24 accept" <<<"$(polder_listing "$NS")" || fail "--no-remediate restored anyway"
[ "$(count_events "$OUT3" restored)" -eq 0 ] || fail "--no-remediate reported a restore"
pass "--no-remediate reports without restoring"

echo "all drift tests passed"
