#!/usr/bin/env bash
# `polder-agent --boot` in namespaces: (a) it loads the stored ruleset before any agent runs;
# (b) the agent started afterwards (controller mode, with only CAP_NET_ADMIN as its systemd unit
# gives it, its controller unreachable) adopts that table without a single transaction (nft
# monitor, subscribed before, shows none), and a new ruleset later replaces it with one atomic
# script: a denied TCP and UDP port probed every 50 ms from a second namespace never get through
# while an allowed one keeps working; (c) the bootstrap file, a corrupt store and nothing at all.
# Usage: boot_e2e.sh PATH_TO_POLDER_AGENT   (root)
AGENT=$1
source "$(dirname "$0")/lib.sh"

# What the agent's RulesetStore writes (agent/ruleset_store.cc): header line, then the bytes.
store_ruleset() {  # store_ruleset STATE_DIR RULESET_FILE
  mkdir -p "$1"
  local rev
  rev=$(sed -n '1s/.*revision=\([0-9a-f]*\).*/\1/p' "$2")
  { printf 'polder-agent-ruleset-v1 %s %s\n' "$rev" "$(wc -c <"$2")"; cat "$2"; } >"$1/ruleset"
}
# Every polder-agent here runs with CAP_NET_ADMIN only, as examples/systemd/polder-agent*.service
# start it.
boot() {  # boot NS OUTFILE ARGS...: runs the boot mode, returns its exit code
  local ns=$1 out=$2; shift 2
  ip netns exec "$ns" setpriv --bounding-set=-all,+net_admin -- "$AGENT" --boot "$@" >"$out" 2>&1
}

client_server_pair
ip netns exec "$SERVER" "$HERE/net_tool.py" listen 5432,6000 >"$WORK/tcp.out" &
PIDS+=($!)
ip netns exec "$SERVER" "$HERE/net_tool.py" udp-echo 7000 >"$WORK/udp.out" &
PIDS+=($!)
for _ in $(seq 1 100); do
  grep -q listening "$WORK/tcp.out" && grep -q listening "$WORK/udp.out" && break
  sleep 0.05
done
# Without a ruleset everything is open: the probes themselves work.
in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 6000 || fail "no tcp connectivity before boot"
in_ns "$CLIENT" "$HERE/net_tool.py" udp-probe 10.1.0.12 7000 || fail "no udp connectivity before boot"

# (a) The stored ruleset is in force before any agent runs.
STATE=$WORK/state
"$HERE/make_ruleset.py" db-1 5432 stored >"$WORK/stored.nft"
store_ruleset "$STATE" "$WORK/stored.nft"
boot "$SERVER" "$WORK/boot.out" --state-dir "$STATE" --bootstrap "$WORK/no-such-bootstrap.nft" \
  --host db-1 || fail "boot mode failed: $(cat "$WORK/boot.out")"
grep -q "loaded the stored ruleset .*host db-1.* in one transaction" "$WORK/boot.out" \
  || fail "boot mode did not say it loaded the stored ruleset: $(cat "$WORK/boot.out")"
[ "$(wc -l <"$WORK/boot.out")" -le 3 ] || fail "boot mode is chatty: $(cat "$WORK/boot.out")"
grep -q "10.1.0.0/24 . tcp . 5432" <<<"$(polder_listing "$SERVER")" || fail "stored ruleset not in the kernel"
in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 5432 || fail "boot: allowed port blocked"
in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 6000 && fail "boot: denied tcp port open"
in_ns "$CLIENT" "$HERE/net_tool.py" udp-probe 10.1.0.12 7000 && fail "boot: denied udp port open"
TABLE_HANDLE=$(in_ns "$SERVER" nft -a list table inet polder | sed -n 1p)
pass "boot mode loaded the stored ruleset; 5432 open, tcp/6000 and udp/7000 closed, no agent yet"

# (b) Takeover. Subscribe nft monitor (a marker it must show), then probe throughout.
ip netns exec "$SERVER" timeout 120 nft monitor >"$WORK/monitor.txt" 2>&1 &
MON=$!
PIDS+=("$MON")
monitor_marker() {  # a transaction by nft the monitor must show: all before it reached it too
  for _ in $(seq 100); do
    in_ns "$SERVER" nft add table inet "$1"
    in_ns "$SERVER" nft delete table inet "$1"
    grep -q "table inet $1" "$WORK/monitor.txt" && return 0
    sleep 0.05
  done
  fail "nft monitor never showed marker $1"
}
monitor_marker pt_subscribed
STOP=$WORK/stop
ip netns exec "$CLIENT" "$HERE/net_tool.py" watch 10.1.0.12 5432 6000 7000 "$STOP" 1200 \
  >"$WORK/watch.out" &
WATCH=$!
PIDS+=("$WATCH")
wait_rounds() {  # wait_rounds N: until the watcher has done N rounds (at most 60 s)
  for _ in $(seq 1 1200); do
    grep -q "^round $1\$" "$WORK/watch.out" && return 0
    kill -0 "$WATCH" 2>/dev/null || fail "watcher ended early: $(cat "$WORK/watch.out")"
    sleep 0.05
  done
  fail "watcher did not reach round $1: $(cat "$WORK/watch.out")"
}
wait_rounds 10

OUT=$WORK/agent.jsonl
ip netns exec "$SERVER" setpriv --bounding-set=-all,+net_admin -- "$AGENT" \
  --controller 127.0.0.1:9 --insecure --host db-1 --state-dir "$STATE" \
  --full-check-interval 600 >>"$OUT" 2>>"$WORK/agent.stderr" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
wait_events "$OUT" adopted 1
for _ in $(seq 1 200); do grep -q "enforcing the stored ruleset" "$OUT" && break; sleep 0.05; done
grep -q "enforcing the stored ruleset" "$OUT" || fail "agent did not enforce the stored ruleset"
# The agent runs, its controller unreachable; keep probing a while (50 rounds, ~2.5 s).
r=$(($(grep -c '^round' "$WORK/watch.out") * 10 + 50))
wait_rounds "$r"
monitor_marker pt_after_adopt
[ "$(in_ns "$SERVER" nft -a list table inet polder | sed -n 1p)" = "$TABLE_HANDLE" ] \
  || fail "the table was recreated"
grep "new generation" "$WORK/monitor.txt" | grep -v "(nft)" \
  && fail "the agent changed the ruleset while taking over: $(cat "$WORK/monitor.txt")"
grep -q "delete table inet polder" "$WORK/monitor.txt" && fail "the table was deleted"
[ "$(count_events "$OUT" applied)" -eq 0 ] || fail "the agent re-applied instead of adopting"
ps -o pid= -p "$AGENT_PID" >/dev/null || fail "agent exited: $(cat "$WORK/agent.stderr")"
pass "agent adopted the boot table without a transaction (with CAP_NET_ADMIN only)"

# A new ruleset (still allowing 5432 only) replaces it in one transaction, probes still running.
# nft 1.0.6's full `nft monitor` crashes printing such a replace; `nft monitor tables` does not.
kill "$MON" 2>/dev/null || true
wait "$MON" 2>/dev/null || true
ip netns exec "$SERVER" timeout 120 nft monitor tables >"$WORK/monitor.txt" 2>&1 &
MON=$!
PIDS+=("$MON")
monitor_marker pt_before_replace
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || fail "agent exit status $? on SIGTERM"
"$HERE/make_ruleset.py" db-1 5432 next >"$WORK/next.nft"
OUT2=$WORK/next.jsonl
ip netns exec "$SERVER" setpriv --bounding-set=-all,+net_admin -- "$AGENT" \
  --ruleset "$WORK/next.nft" --full-check-interval 600 >>"$OUT2" 2>>"$WORK/agent.stderr" &
AGENT_PID=$!
PIDS+=("$AGENT_PID")
wait_events "$OUT2" applied 1
r=$(($(grep -c '^round' "$WORK/watch.out") * 10 + 30))
wait_rounds "$r"
monitor_marker pt_after_replace
NEXT_ELEMENT=$(sed -n 's/.*\(192\.0\.2\.[0-9]* \. udp \. 9\).*/\1/p' "$WORK/next.nft")
grep -qF "$NEXT_ELEMENT" <<<"$(polder_listing "$SERVER")" || fail "new ruleset not in the kernel"
# Between the markers: the table deleted and added back once (the replace script's own
# `delete table` inside its one transaction), never left deleted.
EVENTS=$(sed -n '/pt_before_replace/,/pt_after_replace/p' "$WORK/monitor.txt" | grep "inet polder$")
[ "$EVENTS" = "$(printf 'delete table inet polder\nadd table inet polder')" ] \
  || fail "replacing changed the table otherwise: $EVENTS"
touch "$STOP"
wait "$WATCH" || fail "a probe got through or the allowed port failed: $(cat "$WORK/watch.out")"
grep -q "denied_tcp=0 denied_udp=0" "$WORK/watch.out" || fail "watcher summary: $(tail -1 "$WORK/watch.out")"
kill "$MON" 2>/dev/null || true
pass "replaced in one transaction; $(tail -1 "$WORK/watch.out"): nothing denied got through"

# (c) Bootstrap only: nothing stored, the bootstrap file is loaded; the agent adopts it.
new_ns NS2
"$HERE/make_ruleset.py" db-1 22 bootstrap >"$WORK/bootstrap.nft"
boot "$NS2" "$WORK/boot2.out" --state-dir "$WORK/empty" --bootstrap "$WORK/bootstrap.nft" \
  || fail "bootstrap boot failed: $(cat "$WORK/boot2.out")"
grep -q "no stored ruleset" "$WORK/boot2.out" || fail "no 'no stored ruleset': $(cat "$WORK/boot2.out")"
grep -q "loaded the bootstrap ruleset" "$WORK/boot2.out" || fail "bootstrap not loaded: $(cat "$WORK/boot2.out")"
grep -q "tcp . 22" <<<"$(polder_listing "$NS2")" || fail "bootstrap ruleset not in the kernel"
OUT3=$WORK/bootstrap.jsonl
ip netns exec "$NS2" setpriv --bounding-set=-all,+net_admin -- "$AGENT" \
  --ruleset "$WORK/bootstrap.nft" --full-check-interval 600 >>"$OUT3" 2>>"$WORK/agent.stderr" &
PIDS+=($!)
wait_events "$OUT3" adopted 1
pass "bootstrap file loaded when nothing is stored, and adopted by the agent"

# A corrupt store falls back to the bootstrap file, and says so.
new_ns NS3
mkdir -p "$WORK/corrupt"
printf 'polder-agent-ruleset-v1 abc 999\ntruncated' >"$WORK/corrupt/ruleset"
boot "$NS3" "$WORK/boot3.out" --state-dir "$WORK/corrupt" --bootstrap "$WORK/bootstrap.nft" \
  || fail "corrupt store + bootstrap failed: $(cat "$WORK/boot3.out")"
grep -q "stored ruleset unusable.*falling back to the bootstrap" "$WORK/boot3.out" \
  || fail "fallback not said: $(cat "$WORK/boot3.out")"
grep -q "tcp . 22" <<<"$(polder_listing "$NS3")" || fail "bootstrap not loaded after a corrupt store"
pass "corrupt store falls back to the bootstrap file"

# A corrupt store and no bootstrap: exit 1, the namespace's ruleset untouched.
new_ns NS4
in_ns "$NS4" nft add table ip operator
boot "$NS4" "$WORK/boot4.out" --state-dir "$WORK/corrupt" && fail "corrupt store alone exited 0"
grep -q "FAILED" "$WORK/boot4.out" || fail "failure not said: $(cat "$WORK/boot4.out")"
[ "$(in_ns "$NS4" nft list tables)" = "table ip operator" ] || fail "ruleset changed: $(in_ns "$NS4" nft list ruleset)"
pass "corrupt store without bootstrap: non-zero exit, nothing changed"

# Nothing at all: exit 0, says so, touches nothing.
boot "$NS4" "$WORK/boot5.out" --state-dir "$WORK/nothing" --bootstrap "$WORK/no-such.nft" \
  || fail "nothing to load exited non-zero: $(cat "$WORK/boot5.out")"
grep -q "nothing to load" "$WORK/boot5.out" || fail "not said: $(cat "$WORK/boot5.out")"
[ "$(in_ns "$NS4" nft list tables)" = "table ip operator" ] || fail "ruleset changed: $(in_ns "$NS4" nft list ruleset)"
[ ! -e "$WORK/nothing" ] || fail "boot mode created the state directory"
pass "nothing stored, no bootstrap: exit 0, nothing changed"

echo "all boot tests passed"
