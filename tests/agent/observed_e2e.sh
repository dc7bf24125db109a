#!/usr/bin/env bash
# Observed traffic end to end (issue 11), real packets over a veth pair: `polder compile` writes
# db-1's ruleset (nft text, then --format wire) with its observation sets, the server runs
# polder-agent --ruleset FILE --traffic-spool S --traffic-interval 1s, the client opens known
# numbers of allowed and denied connections, and the spool must hold exactly those counts;
# `polder traffic --local` attributes them to the policy's flows and `polder suggest` writes
# flows that check and allow what was denied.
# Usage: observed_e2e.sh PATH_TO_POLDER_AGENT PATH_TO_POLDER   (root)
AGENT=$1
POLDER=$2
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

# run_case FORM: the ruleset `polder compile` writes for db-1 (nft text or --format wire), an
# agent spooling what its observation sets count, known connections from the client, and the
# spool's counts compared with them.
run_case() {
  local form=$1 ruleset=$WORK/db-1.$1 out=$WORK/agent-$1.jsonl spool=$WORK/traffic-$1.jsonl
  if [ "$form" = wire ]; then
    "$POLDER" compile "$WORK/policy" --host db-1 --format wire -o "$ruleset" || fail "compile --format wire"
  else
    "$POLDER" compile "$WORK/policy" --host db-1 >"$ruleset" || fail "compile"
  fi
  # A full check every 0.5 s: what traffic puts in the observation sets must never look like
  # drift (they are dynamic sets, no configuration).
  start_agent "$SERVER" "$out" "$ruleset" --traffic-spool "$spool" --traffic-interval 1s \
    --full-check-interval 0.5
  wait_events "$out" applied 1
  # 7 allowed TCP connections to 5432; 4 UDP datagrams to 6000 and 3 to 6001, denied (each
  # from a fresh socket, so each a new connection); ICMP echo, denied.
  in_ns "$CLIENT" python3 - <<'PY'
import socket
for _ in range(7):
    s = socket.create_connection(("10.1.0.12", 5432), timeout=2)
    s.close()
for port, n in ((6000, 4), (6001, 3)):
    for _ in range(n):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"x", ("10.1.0.12", port))
        u.close()
PY
  in_ns "$CLIENT" ping -c 2 -i 0.2 -W 1 10.1.0.12 >/dev/null 2>&1 && fail "$form: ping got through"
  local want='{("10.1.0.11", "10.1.0.12", "tcp", 5432, "allowed"): 7, ("10.1.0.11", "10.1.0.12", "udp", 6000, "denied"): 4, ("10.1.0.11", "10.1.0.12", "udp", 6001, "denied"): 3, ("10.1.0.11", "10.1.0.12", "icmp", 8, "denied"): 2}'
  # Bounded wait (10 s) for a report that holds it all.
  local i ok=0
  for i in $(seq 1 100); do
    if python3 - "$spool" "$want" <<'PY'
import json, sys
total = {}
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        for s in r["samples"]:
            k = (s["peer"], s["local"], s["protocol"], s["port"], s["verdict"])
            total[k] = total.get(k, 0) + s["connections"]
except FileNotFoundError:
    sys.exit(1)
sys.exit(0 if total == eval(sys.argv[2]) else 1)
PY
    then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || fail "$form: spool counts differ from what was sent: $(cat "$spool" 2>/dev/null | tail -3)"
  python3 - "$spool" <<'PY' || fail "$form: spool batches"
import json, sys
seqs, lost = [], 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["host"] == "db-1", r
    seqs.append(r["sequence"]); lost += r["lost"]
assert lost == 0, lost
assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), seqs
PY
  [ "$(count_events "$out" drift)" -eq 0 ] || fail "$form: observed traffic was taken for drift"
  pass "$form: the spool holds exactly the connections sent, attributed allowed or denied; no drift"
  SPOOL=$spool
  kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  in_ns "$SERVER" nft delete table inet polder
}

run_case nft
run_case wire

# The CLI reads the spool against a policy with these addresses.
"$POLDER" traffic --local "$SPOOL" --policy "$WORK/policy" >"$WORK/traffic.txt" ||
  fail "polder traffic failed: $(cat "$WORK/traffic.txt")"
grep -q "client-1 .*tcp/5432 .*allowed .* 7 .*clients-to-db (policy.yaml:" "$WORK/traffic.txt" ||
  fail "traffic lacks the allowed row: $(cat "$WORK/traffic.txt")"
grep -q "udp/6000 .*denied .* 4 " "$WORK/traffic.txt" || fail "traffic lacks udp/6000: $(cat "$WORK/traffic.txt")"
grep -q "icmp/echo-request .*denied .* 2 " "$WORK/traffic.txt" || fail "traffic lacks the ping: $(cat "$WORK/traffic.txt")"
pass "polder traffic --local attributes the rows to the policy's flows"
"$POLDER" suggest --local "$SPOOL" --policy "$WORK/policy" -o "$WORK/policy/suggested.yaml" >/dev/null ||
  fail "polder suggest failed"
"$POLDER" check "$WORK/policy" >/dev/null || fail "the suggestion does not check: $(cat "$WORK/policy/suggested.yaml")"
"$POLDER" explain "$WORK/policy" --from client-1 --to db-1 --port udp/6001 >/dev/null ||
  fail "the suggestion does not allow udp/6001: $(cat "$WORK/policy/suggested.yaml")"
pass "polder suggest writes flows that check and allow what was denied"
