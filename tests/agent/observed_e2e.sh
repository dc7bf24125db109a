#!/usr/bin/env bash
# Observed traffic end to end (issue 11), real packets over a veth pair: the server runs
# polder-agent --ruleset FILE --traffic-spool S --traffic-interval 1s with observation sets in
# the shape docs/traffic.md gives (allowed new connections recorded on their way to accept,
# denied ones at the drop), the client opens known numbers of connections, and the spool must
# hold exactly those counts, attributed by `polder traffic --local` to the host and verdict.
# Usage: observed_e2e.sh PATH_TO_POLDER_AGENT PATH_TO_POLDER   (root)
AGENT=$1
POLDER=$2
source "$(dirname "$0")/lib.sh"

client_server_pair
ip netns exec "$SERVER" "$HERE/net_tool.py" listen 5432 >"$WORK/listener.out" &
PIDS+=($!)
for i in $(seq 1 100); do grep -q listening "$WORK/listener.out" && break; sleep 0.05; done

cat >"$WORK/ruleset.nft" <<'NFT'
# polder ruleset host=db-1 revision=ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb mode=enforce
table inet polder
delete table inet polder
table inet polder {
  counter seen_in4_allowed_overflow {
  }
  counter seen_in4_denied_overflow {
  }
  set allow4 {
    type ipv4_addr . inet_proto . inet_service
    flags interval
    elements = { 10.1.0.0/24 . tcp . 5432 }
  }
  set seen_in4_allowed {
    type ipv4_addr . ipv4_addr . inet_proto . inet_service
    size 1024
    flags dynamic,timeout
    timeout 1h
    counter
  }
  set seen_in4_denied {
    type ipv4_addr . ipv4_addr . inet_proto . inet_service
    size 2
    flags dynamic,timeout
    timeout 1h
    counter
  }
  chain accept_observed {
    ct state new update @seen_in4_allowed { ip saddr . ip daddr . meta l4proto . th dport } accept
    ct state new counter name "seen_in4_allowed_overflow" accept
    accept
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    ip saddr . meta l4proto . th dport @allow4 jump accept_observed
    meta l4proto { tcp, udp } update @seen_in4_denied { ip saddr . ip daddr . meta l4proto . th dport } drop
    meta l4proto { tcp, udp } counter name "seen_in4_denied_overflow" drop
  }
  chain output {
    type filter hook output priority filter; policy drop;
    ct state established,related accept
    oif "lo" accept
  }
}
NFT
OUT=$WORK/agent.jsonl
SPOOL=$WORK/traffic.jsonl
start_agent "$SERVER" "$OUT" "$WORK/ruleset.nft" --traffic-spool "$SPOOL" --traffic-interval 1s
wait_events "$OUT" applied 1

# Known numbers: 7 allowed TCP connections to 5432; 4 UDP datagrams to 6000 and 3 to 6001
# (denied; each from a fresh socket, so each is a new connection); 2 to 6002 and 6003, which the
# 2-element denied set has no room for: lost, and counted as lost.
in_ns "$CLIENT" python3 - <<'PY'
import socket
for _ in range(7):
    s = socket.create_connection(("10.1.0.12", 5432), timeout=2)
    s.close()
for port, n in ((6000, 4), (6001, 3), (6002, 1), (6003, 1)):
    for _ in range(n):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"x", ("10.1.0.12", port))
        u.close()
PY

# The next report after the traffic holds it all (bounded wait: 10 s).
for i in $(seq 1 100); do
  python3 - "$SPOOL" <<'PY' && break
import json, sys
total = {}
lost = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        lost += r["lost"]
        for s in r["samples"]:
            k = (s["peer"], s["local"], s["protocol"], s["port"], s["verdict"])
            total[k] = total.get(k, 0) + s["connections"]
except FileNotFoundError:
    sys.exit(1)
sys.exit(0 if total.get(("10.1.0.11", "10.1.0.12", "udp", 6001, "denied")) == 3 and lost == 2 else 1)
PY
  sleep 0.1
done

python3 - "$SPOOL" <<'PY' || fail "spool counts differ from what was sent"
import json, sys
total, lost, sequences = {}, 0, []
for line in open(sys.argv[1]):
    r = json.loads(line)
    assert r["host"] == "db-1", r
    sequences.append(r["sequence"])
    lost += r["lost"]
    for s in r["samples"]:
        k = (s["peer"], s["local"], s["protocol"], s["port"], s["verdict"])
        total[k] = total.get(k, 0) + s["connections"]
want = {("10.1.0.11", "10.1.0.12", "tcp", 5432, "allowed"): 7,
        ("10.1.0.11", "10.1.0.12", "udp", 6000, "denied"): 4,
        ("10.1.0.11", "10.1.0.12", "udp", 6001, "denied"): 3}
assert total == want, f"counted {total}, sent {want}"
assert lost == 2, f"lost {lost}, want 2"
assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences), sequences
print("spool:", total, "lost", lost)
PY
pass "the spool holds exactly what was sent, and the 2 tuples the full set could not hold as lost"

# The CLI reads the spool against a policy with these addresses.
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
"$POLDER" traffic --local "$SPOOL" --policy "$WORK/policy" >"$WORK/traffic.txt" ||
  fail "polder traffic failed: $(cat "$WORK/traffic.txt")"
grep -q "client-1 .*tcp/5432 .*allowed .* 7 .*clients-to-db (policy.yaml:" "$WORK/traffic.txt" ||
  fail "traffic lacks the allowed row: $(cat "$WORK/traffic.txt")"
grep -q "udp/6000 .*denied .* 4 " "$WORK/traffic.txt" || fail "traffic lacks udp/6000: $(cat "$WORK/traffic.txt")"
grep -q "could not record 2 tuples" "$WORK/traffic.txt" || fail "traffic hides the loss"
pass "polder traffic --local attributes the rows and says what was lost"
