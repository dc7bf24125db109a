#!/usr/bin/env bash
# Real packets through an agent-enforced host: two namespaces joined by a veth pair, the server
# (10.1.0.12) runs polder-agent with a ruleset allowing tcp/5432 from 10.1.0.0/24, and listens
# on 5432 (allowed) and 6000 (not allowed). Probes from the client (10.1.0.11) must agree with
# the ruleset before and after tampering, and 200 consecutive applies while the client connects
# in a loop must not fail a single connection.
# Usage: traffic_e2e.sh PATH_TO_POLDER_AGENT   (root)
AGENT=$1
source "$(dirname "$0")/lib.sh"
APPLIES=${APPLIES:-200}

client_server_pair

ip netns exec "$SERVER" "$HERE/net_tool.py" listen 5432,6000 >"$WORK/listener.out" &
PIDS+=($!)
for i in $(seq 1 100); do grep -q listening "$WORK/listener.out" && break; sleep 0.05; done
# Without a ruleset both ports are open: the probe itself works.
in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 5432 || fail "no connectivity before the agent"
in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 6000 || fail "no connectivity before the agent"

OUT=$WORK/traffic.jsonl
"$HERE/make_ruleset.py" db-1 5432 a >"$WORK/a.nft"
"$HERE/make_ruleset.py" db-1 5432 b >"$WORK/b.nft"
cp "$WORK/a.nft" "$WORK/current.nft"
start_agent "$SERVER" "$OUT" "$WORK/current.nft" --full-check-interval 600
wait_events "$OUT" applied 1

probes_agree() {  # probes_agree WHEN
  in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 5432 || fail "$1: allowed port 5432 blocked"
  in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 6000 && fail "$1: port 6000 open"
  pass "$1: 5432 open, 6000 closed"
}
probes_agree "after apply"

in_ns "$SERVER" nft insert rule inet polder input tcp dport 6000 accept
wait_events "$OUT" restored 1
probes_agree "after an inserted accept rule was undone"
in_ns "$SERVER" nft flush table inet polder
wait_events "$OUT" restored 2
probes_agree "after a flushed table was restored"
in_ns "$SERVER" nft delete table inet polder
wait_events "$OUT" restored 3
probes_agree "after a deleted table was restored"

# 200 applies, alternating two rulesets that both allow 5432, under a connection loop.
STOP=$WORK/stop
ip netns exec "$CLIENT" "$HERE/net_tool.py" loop 10.1.0.12 5432 "$STOP" 240 >"$WORK/loop.out" &
LOOP=$!
PIDS+=("$LOOP")
sleep 0.2
before=$(count_events "$OUT" applied)
for i in $(seq 1 "$APPLIES"); do
  if [ $((i % 2)) -eq 1 ]; then cp "$WORK/b.nft" "$WORK/current.nft"; else cp "$WORK/a.nft" "$WORK/current.nft"; fi
  kill -HUP "$AGENT_PID"
  wait_events "$OUT" applied $((before + i))
done
touch "$STOP"
wait "$LOOP" || fail "connections failed during applies: $(cat "$WORK/loop.out")"
echo "during $APPLIES applies: $(cat "$WORK/loop.out")"
[ "$(count_events "$OUT" error)" -eq 0 ] || fail "errors during applies"
[ "$(count_events "$OUT" drift)" -eq 3 ] || fail "own applies reported as drift"
probes_agree "after $APPLIES applies"
echo "all traffic tests passed"
