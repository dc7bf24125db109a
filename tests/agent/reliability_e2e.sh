#!/usr/bin/env bash
# Issue 10's reliability goals, with real packets between namespaces and the structured form
# (`polder compile --format wire`) applied through libnftnl:
#  1. APPLIES (200) consecutive revisions (alternating two that differ in services and peer
#     ranges, so each is an incremental batch) while one long-lived allowed TCP connection
#     exchanges a byte every 20 ms and the client tries 20 new allowed and 20 denied (TCP and
#     UDP) connections a second: not one allowed failure, not one denied connection through;
#  2. foreign tables (another firewall's `inet filter`, a `ip nat`) loaded before the agent are
#     byte for byte the same (`nft -a list`, handles included) after those applies and after
#     drift restores of each kind;
#  3. `kill -9` of the agent at random moments during KILLS (50) applies: the kernel holds one
#     of the two tables in full, never a mix, and a restarted agent converges.
# Usage: reliability_e2e.sh PATH_TO_POLDER_AGENT PATH_TO_POLDER   (root)
AGENT=$1
POLDER=$2
source "$(dirname "$0")/lib.sh"
APPLIES=${APPLIES:-200}
KILLS=${KILLS:-50}
CONFIG="$HERE/../lib/nft_config.py"

client_server_pair
S=10.1.0.12
ip netns exec "$SERVER" "$HERE/net_tool.py" listen 5432,6000 >"$WORK/listener.out" &
PIDS+=($!)
ip netns exec "$SERVER" "$HERE/net_tool.py" echo-listen 5433 >"$WORK/echo.out" &
PIDS+=($!)
ip netns exec "$SERVER" "$HERE/net_tool.py" udp-echo 6001 &
PIDS+=($!)
for i in $(seq 1 100); do
  grep -q listening "$WORK/listener.out" && grep -q listening "$WORK/echo.out" && break
  sleep 0.05
done
# Without a ruleset every port answers, so a closed port below is the ruleset's doing.
in_ns "$CLIENT" "$HERE/net_tool.py" probe $S 5432 || fail "no tcp/5432 before the agent"
in_ns "$CLIENT" "$HERE/net_tool.py" probe $S 6000 || fail "no tcp/6000 before the agent"
in_ns "$CLIENT" "$HERE/net_tool.py" udp-probe $S 6001 || fail "no udp/6001 before the agent"

# Foreign tables, as another firewall and a container runtime would leave them.
in_ns "$SERVER" nft -f - <<'NFT'
table inet filter {
  set blocked { type ipv4_addr; elements = { 203.0.113.7, 203.0.113.9 } }
  chain input { type filter hook input priority 10; policy accept; ip saddr @blocked drop; }
}
table ip nat {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; ip daddr 198.18.0.0/15 masquerade; }
}
NFT
foreign_tables() { in_ns "$SERVER" nft -a list table inet filter; in_ns "$SERVER" nft -a list table ip nat; }
FOREIGN_BEFORE=$(foreign_tables)

# Two revisions of one policy: both allow tcp/5432 and tcp/5433 from the clients; they differ
# in a third service and in a partner zone's prefixes. Neither allows tcp/6000 or udp/6001.
make_policy() {  # make_policy DIR EXTRA_PORT PARTNER_CIDRS
  mkdir -p "$1"
  cat >"$1/policy.yaml" <<YAML
zones:
  - name: clients
    cidrs: [10.1.0.0/28]
  - name: partners
    cidrs: [$3]
  - name: db
    cidrs: [10.1.0.12/32]
hosts:
  - name: client-1
    addresses: [10.1.0.11]
  - name: db-1
    addresses: [10.1.0.12]
services:
  - name: postgres
    ports: [tcp/5432, tcp/5433]
  - name: extra
    ports: [tcp/$2]
flows:
  - name: clients-to-db
    from: clients
    to: db
    services: [postgres, extra]
  - name: partners-to-db
    from: partners
    to: db
    services: [extra]
YAML
}
make_policy "$WORK/pa" 7001 "192.0.2.0/25, 198.51.100.0/24"
make_policy "$WORK/pb" 7002 "192.0.2.128/25, 203.0.113.0/24"
"$POLDER" compile "$WORK/pa" --host db-1 --format wire -o "$WORK/a.wire" || fail "compile a"
"$POLDER" compile "$WORK/pb" --host db-1 --format wire -o "$WORK/b.wire" || fail "compile b"
cmp -s "$WORK/a.wire" "$WORK/b.wire" && fail "the two revisions compiled to the same ruleset"

OUT=$WORK/agent.jsonl
cp "$WORK/b.wire" "$WORK/current.wire"
start_agent "$SERVER" "$OUT" "$WORK/current.wire" --full-check-interval 600
wait_events "$OUT" applied 1
grep '"event":"applied"' "$OUT" | head -1 | grep -q '"via":"libnftnl"' || fail "not applied through libnftnl"
config() { in_ns "$SERVER" nft -s list table inet polder 2>/dev/null | "$CONFIG"; }
CONFIG_B=$(config)
cp "$WORK/a.wire" "$WORK/current.wire"
kill -HUP "$AGENT_PID"
wait_events "$OUT" applied 2
CONFIG_A=$(config)
[ "$CONFIG_A" != "$CONFIG_B" ] || fail "the two revisions leave the same table"

probes_agree() {  # probes_agree WHEN
  in_ns "$CLIENT" "$HERE/net_tool.py" probe $S 5432 || fail "$1: allowed tcp/5432 blocked"
  in_ns "$CLIENT" "$HERE/net_tool.py" probe $S 6000 && fail "$1: tcp/6000 open"
  in_ns "$CLIENT" "$HERE/net_tool.py" udp-probe $S 6001 && fail "$1: udp/6001 answered"
  return 0
}
probes_agree "after the first applies"
pass "both revisions applied through libnftnl, probes agree"

# 1. Revisions under traffic.
STOP=$WORK/stop
ip netns exec "$CLIENT" "$HERE/net_tool.py" hold $S 5433 "$STOP" 600 >"$WORK/hold.out" &
HOLD=$!
PIDS+=("$HOLD")
ip netns exec "$CLIENT" "$HERE/net_tool.py" watch $S 5432 6000 6001 "$STOP" 100000 >"$WORK/watch.out" &
WATCH=$!
PIDS+=("$WATCH")
for i in $(seq 1 100); do grep -q connected "$WORK/hold.out" && grep -q "round 10" "$WORK/watch.out" && break; sleep 0.05; done
grep -q connected "$WORK/hold.out" || fail "the long-lived connection did not open"
before=$(count_events "$OUT" applied)
for i in $(seq 1 "$APPLIES"); do
  if [ $((i % 2)) -eq 1 ]; then cp "$WORK/b.wire" "$WORK/current.wire"; else cp "$WORK/a.wire" "$WORK/current.wire"; fi
  kill -HUP "$AGENT_PID"
  wait_events "$OUT" applied $((before + i))
  kill -0 "$HOLD" 2>/dev/null || fail "long-lived connection broke at revision $i: $(cat "$WORK/hold.out")"
done
touch "$STOP"
wait "$HOLD" || fail "long-lived connection: $(cat "$WORK/hold.out")"
wait "$WATCH" || fail "connections during applies: $(grep -E 'BREACH|rounds=' "$WORK/watch.out")"
echo "during $APPLIES revisions: $(tail -1 "$WORK/watch.out"); long-lived: $(tail -1 "$WORK/hold.out")"
rounds=$(tail -1 "$WORK/watch.out" | sed -n 's/^rounds=\([0-9]*\).*/\1/p')
[ "${rounds:-0}" -ge 20 ] || fail "too few probe rounds during the revisions ($rounds)"
# Every revision went through libnftnl and incrementally (the two share their table).
[ "$(grep '"event":"applied"' "$OUT" | grep -vc '"via":"libnftnl"')" -eq 0 ] || fail "an apply bypassed libnftnl"
[ "$(count_events "$OUT" error)" -eq 0 ] || fail "errors during applies"
[ "$(count_events "$OUT" drift)" -eq 0 ] || fail "own applies reported as drift"
[ "$(config)" = "$CONFIG_A" ] || fail "after $APPLIES revisions the table is not revision a's"
probes_agree "after $APPLIES revisions"
pass "$APPLIES revisions: 0 allowed failures, 0 denied through, long-lived connection kept"

# 2. Drift restores of each kind, each undone, and the foreign tables untouched.
restores=0
tamper() {  # tamper WHAT NFT-ARGS...
  local what=$1; shift
  in_ns "$SERVER" nft "$@" || fail "tamper '$what' did not apply"
  restores=$((restores + 1))
  wait_events "$OUT" restored "$restores"
  [ "$(config)" = "$CONFIG_A" ] || fail "after '$what' the restored table differs"
  probes_agree "after '$what' was undone"
}
# Both clients' services are in the first profile's set (renderer naming: in_p<N>_l4).
grep -q "set in_p1_l4" <<<"$CONFIG_A" || fail "no set in_p1_l4 in revision a's table: $CONFIG_A"
tamper "an inserted accept rule" insert rule inet polder input tcp dport 6000 accept
tamper "a deleted element" delete element inet polder in_p1_l4 "{ tcp . 7001 }"
tamper "a flushed chain" flush chain inet polder input
tamper "a deleted table" delete table inet polder
[ "$(foreign_tables)" = "$FOREIGN_BEFORE" ] || fail "foreign tables changed: $(diff <(echo "$FOREIGN_BEFORE") <(foreign_tables))"
pass "$((APPLIES + 2)) revisions and $restores restores left the foreign tables byte for byte"

# 3. kill -9 at random moments during applies.
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
mixes=0
for k in $(seq 1 "$KILLS"); do
  if [ $((k % 2)) -eq 1 ]; then cp "$WORK/b.wire" "$WORK/current.wire"; else cp "$WORK/a.wire" "$WORK/current.wire"; fi
  start_agent "$SERVER" "$WORK/kill-$k.jsonl" "$WORK/current.wire" --full-check-interval 600
  # 0-149 ms: before, during and after the apply (a start applies within ~30 ms here).
  sleep "0.$(printf '%03d' $((RANDOM % 150)))"
  kill -9 "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null || true
  now=$(config)
  if [ "$now" != "$CONFIG_A" ] && [ "$now" != "$CONFIG_B" ]; then
    mixes=$((mixes + 1))
    echo "kill $k left a table that is neither revision:" >&2
    diff <(echo "$CONFIG_A") <(echo "$now") >&2 || true
  fi
done
[ "$mixes" -eq 0 ] || fail "$mixes of $KILLS kills left a mixed table"
cp "$WORK/a.wire" "$WORK/current.wire"
OUT2=$WORK/after-kills.jsonl
start_agent "$SERVER" "$OUT2" "$WORK/current.wire" --full-check-interval 600
for i in $(seq 1 200); do
  [ "$(count_events "$OUT2" applied)" -ge 1 ] || [ "$(count_events "$OUT2" adopted)" -ge 1 ] && break
  sleep 0.05
done
[ "$(count_events "$OUT2" applied)" -ge 1 ] || [ "$(count_events "$OUT2" adopted)" -ge 1 ] || fail "the restarted agent did not converge"
[ "$(config)" = "$CONFIG_A" ] || fail "the restarted agent left another table"
probes_agree "after $KILLS kills and a restart"
[ "$(foreign_tables)" = "$FOREIGN_BEFORE" ] || fail "foreign tables changed by the kills"
pass "$KILLS kills -9 during applies: old or new table each time, the restart converges"
echo "all reliability tests passed"
