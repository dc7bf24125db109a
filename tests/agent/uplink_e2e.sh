#!/usr/bin/env bash
# Observed traffic through the controller (issue 11), real packets over a veth pair: db-1's
# agent runs under a controller (both in db-1's namespace, on its loopback, --insecure), the
# client opens known numbers of allowed and denied connections, and `polder traffic
# --controller ... --format json` must show exactly those counts; then the controller is killed
# (kill -9), more connections are made while it is away (the agent spools them), it is
# restarted on the same files, and the totals are exact: what was owed is replayed, and a batch
# sent twice is counted once.
# Then the agent is restarted: it adopts the table and resumes its collector's baseline, so the
# totals stay exact; `polder unused --controller` counts the kernel's hits the agent sent.
# Usage: uplink_e2e.sh PATH_TO_POLDER_AGENT PATH_TO_POLDER PATH_TO_POLDER_CONTROLLER   (root)
AGENT=$1
POLDER=$2
CONTROLLER=$3
source "$(dirname "$0")/lib.sh"

client_server_pair
ip netns exec "$SERVER" "$HERE/net_tool.py" listen 5432 >"$WORK/listener.out" &
PIDS+=($!)
for i in $(seq 1 100); do grep -q listening "$WORK/listener.out" && break; sleep 0.05; done

mkdir -p "$WORK/policy"
cat >"$WORK/policy/policy.yaml" <<'YAML'
zones:
  - name: clients
    cidrs: [10.1.0.0/28]
  - name: db
    cidrs: [10.1.0.12/32]
hosts:
  - name: client-1
    addresses: [10.1.0.11]
  - name: db-1
    addresses: [10.1.0.12]
services:
  - name: postgres
    ports: [tcp/5432]
flows:
  - name: clients-to-db
    from: clients
    to: db
    services: [postgres]
YAML

LISTEN=127.0.0.1:17611
start_controller() {
  : >"$WORK/controller.log"
  ip netns exec "$SERVER" "$CONTROLLER" --policy "$WORK/policy" --listen "$LISTEN" --insecure \
    --state "$WORK/state.db" >"$WORK/controller.log" 2>&1 &
  CONTROLLER_PID=$!
  PIDS+=("$CONTROLLER_PID")
  for i in $(seq 1 100); do grep -q "listening on" "$WORK/controller.log" && break; sleep 0.05; done
  grep -q "listening on" "$WORK/controller.log" || fail "controller did not start: $(cat "$WORK/controller.log")"
}
start_controller

start_uplink_agent() {
  ip netns exec "$SERVER" "$AGENT" --controller "$LISTEN" --host db-1 --insecure \
    --state-dir "$WORK/agent-state" --traffic-interval 1s >>"$WORK/agent.jsonl" 2>>"$WORK/agent.stderr" &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

# connect TCP UDP_PORT UDP_N: TCP connections to 5432 (allowed), UDP datagrams (denied), each
# from a fresh socket.
connect() {
  in_ns "$CLIENT" python3 - "$@" <<'PY'
import socket, sys
tcp, port, n = (int(a) for a in sys.argv[1:])
for _ in range(tcp):
    s = socket.create_connection(("10.1.0.12", 5432), timeout=2)
    s.close()
for _ in range(n):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x", ("10.1.0.12", port))
    u.close()
PY
}

# wait_counts WANT: at most 20 s until the controller's rows are exactly WANT (a Python dict).
wait_counts() {
  local want=$1 i
  for i in $(seq 1 100); do
    in_ns "$SERVER" "$POLDER" traffic --controller "$LISTEN" --insecure --policy "$WORK/policy" \
      --format json >"$WORK/traffic.json" 2>"$WORK/traffic.err" || true
    if python3 - "$WORK/traffic.json" "$want" <<'PY'
import json, sys
try:
    j = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
total = {}
for r in j["rows"]:
    k = (r["peer"], r["protocol"], r["port"], r["verdict"])
    total[k] = total.get(k, 0) + r["connections"]
assert j["source"] == "controller", j
sys.exit(0 if total == eval(sys.argv[2]) else 1)
PY
    then return 0; fi
    sleep 0.2
  done
  fail "controller counts differ from what was sent (want $want): $(cat "$WORK/traffic.json" "$WORK/traffic.err" | head -60)"
}

start_uplink_agent
wait_events "$WORK/agent.jsonl" applied 1
connect 7 6000 4
wait_counts '{("client-1", "tcp", 5432, "allowed"): 7, ("client-1", "udp", 6000, "denied"): 4}'
pass "polder traffic --controller shows exactly the connections sent (7 allowed, 4 denied)"

kill -9 "$CONTROLLER_PID"
wait "$CONTROLLER_PID" 2>/dev/null || true
connect 3 6001 3
# Bounded wait (10 s) for the agent to spool them while the controller is away.
for i in $(seq 1 100); do
  python3 - "$WORK/agent-state/traffic.jsonl" <<'PY' && break
import json, sys
n = sum(s["connections"] for l in open(sys.argv[1]) for s in json.loads(l)["samples"]
        if s["port"] == 6001)
sys.exit(0 if n == 3 else 1)
PY
  sleep 0.1
done
start_controller
want='{("client-1", "tcp", 5432, "allowed"): 10, ("client-1", "udp", 6000, "denied"): 4, ("client-1", "udp", 6001, "denied"): 3}'
wait_counts "$want"
# Stays exact over a few more collection intervals (replays and empty batches change nothing).
until_s=$((SECONDS + 3))
while [ $SECONDS -lt $until_s ]; do
  wait_counts "$want"
done
python3 - "$WORK/traffic.json" <<'PY' || fail "evidence: $(head -12 "$WORK/traffic.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["hosts"] == ["db-1"], j["hosts"]
assert j["lost_tuples"] == 0 and j["dropped_connections"] == 0 and j["truncated_reports"] == 0, j
PY
pass "after kill -9 and a restart of the controller the totals are still exact (10 allowed, 7 denied)"

# wait_counter_hits N: at most 20 s until `polder unused --controller` attributes N packets of
# the kernel's counters (the agents' hits, stored by the controller) to clients-to-db.
wait_counter_hits() {
  local n=$1 i got=""
  for i in $(seq 1 100); do
    in_ns "$SERVER" "$POLDER" unused --controller "$LISTEN" --insecure --policy "$WORK/policy" \
      --since 1d --format json >"$WORK/unused.json" 2>"$WORK/unused.err" || true
    got=$(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(next(e["counter_hits"] for e in j["entries"] if e["name"] == "clients-to-db"))' \
      "$WORK/unused.json" 2>/dev/null) || got=""
    [ "$got" = "$n" ] && return 0
    sleep 0.2
  done
  fail "polder unused --controller: clients-to-db's counter hits are '$got', not $n: $(head -c 1500 "$WORK/unused.json"; cat "$WORK/unused.err")"
}
wait_counter_hits 10
pass "polder unused --controller counts the kernel's hits on clients-to-db (10, one per allowed connection)"

# An agent restart: it adopts the table, whose counters still hold everything, and resumes its
# collector's baseline, so only the 2 new connections are added (not 10 + 4 + 3 again).
kill "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
start_uplink_agent
connect 2 6000 1
want='{("client-1", "tcp", 5432, "allowed"): 12, ("client-1", "udp", 6000, "denied"): 5, ("client-1", "udp", 6001, "denied"): 3}'
wait_counts "$want"
wait_counter_hits 12
until_s=$((SECONDS + 3))
while [ $SECONDS -lt $until_s ]; do
  wait_counts "$want"
done
wait_counter_hits 12
pass "after an agent restart the totals are exact (12 allowed, 8 denied; 12 counter hits)"
