#!/usr/bin/env bash
# Observed traffic end to end (issue 11), real packets over a veth pair: `polder compile` writes
# db-1's ruleset (nft text, then --format wire) with its observation sets, the server runs
# polder-agent --ruleset FILE --traffic-spool S --traffic-interval 1s, the client opens known
# numbers of allowed and denied connections, and the spool must hold exactly those counts;
# `polder traffic --local` attributes them to the policy's flows and `polder suggest` writes
# flows that check and allow what was denied. The counters on the allow elements (hits in the
# spool) must give the same 7, attributed to clients-to-db through the provenance map that
# `polder compile -o` writes beside the ruleset; with the structured form, an apply of an
# unrelated change (SIGHUP) must keep the kernel's count of the unchanged element.
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
    "$POLDER" compile "$WORK/policy" --host db-1 -o "$ruleset" || fail "compile"
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
  wait_hits "$form" "$spool" "$ruleset.provenance.json" 7
  if [ "$form" = wire ]; then
    # An unrelated change: a new zone and flow. The incremental libnftnl apply adds the new
    # elements and leaves the allow element of clients-to-db (and its counter) alone.
    cp "$WORK/policy/policy.yaml" "$WORK/policy.yaml.orig"
    cat >>"$WORK/policy/policy.yaml" <<'YAML'
  - name: ops-to-db
    from: ops
    to: db
    services: [ssh]
YAML
    sed -i -e 's|^hosts:|  - name: ops\n    cidrs: [10.9.0.0/24]\nhosts:|' \
      -e 's|^services:|services:\n  - name: ssh\n    ports: [tcp/22]|' "$WORK/policy/policy.yaml"
    "$POLDER" compile "$WORK/policy" --host db-1 --format wire -o "$ruleset" || fail "compile the change"
    kill -HUP "$AGENT_PID"
    wait_events "$out" applied 2
    local kept
    kept=$(kernel_hits "$ruleset.provenance.json") || fail "wire: cannot read the kernel's counter"
    [ "$kept" = 7 ] || fail "wire: the apply of an unrelated change left the element's counter at $kept, not 7"
    in_ns "$CLIENT" python3 -c '
import socket
for _ in range(3): socket.create_connection(("10.1.0.12", 5432), timeout=2).close()'
    wait_hits "$form" "$spool" "$ruleset.provenance.json" 10
    kept=$(kernel_hits "$ruleset.provenance.json")
    [ "$kept" = 10 ] || fail "wire: the kernel's counter is $kept after 3 more connections, not 10"
    pass "wire: an unrelated apply keeps the element's count (7, then 10 after 3 more connections)"
    # A restarted agent adopts the table, whose counters still hold 10: it must report only
    # what comes after (2 more), not the 10 again, thanks to the baseline beside the spool.
    [ -s "$spool.baseline" ] || fail "wire: no baseline beside the spool"
    kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
    local out2=$WORK/agent-wire-2.jsonl
    start_agent "$SERVER" "$out2" "$ruleset" --traffic-spool "$spool" --traffic-interval 1s \
      --full-check-interval 0.5
    wait_events "$out2" traffic 1
    grep -q '"event":"traffic_baseline"' "$out2" && fail "wire: the restarted agent did not resume its baseline: $(grep traffic_baseline "$out2")"
    in_ns "$CLIENT" python3 -c '
import socket
for _ in range(2): socket.create_connection(("10.1.0.12", 5432), timeout=2).close()'
    wait_hits "$form" "$spool" "$ruleset.provenance.json" 12
    # Two more reports later it is still 12: nothing was counted twice.
    local reports
    reports=$(count_events "$out2" traffic)
    wait_events "$out2" traffic $((reports + 2))
    [ "$(hits_of "$spool" "$ruleset.provenance.json" | cut -d' ' -f1)" = 12 ] ||
      fail "wire: after a restart the spool holds $(hits_of "$spool" "$ruleset.provenance.json") hits, not 12"
    pass "wire: a restarted agent reports only what was counted after its restart (10, then 12)"
    # Without the baseline it cannot know what was reported: it says so and counts nothing twice.
    kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
    rm "$spool.baseline"
    local out3=$WORK/agent-wire-3.jsonl
    start_agent "$SERVER" "$out3" "$ruleset" --traffic-spool "$spool" --traffic-interval 1s \
      --full-check-interval 0.5
    wait_events "$out3" traffic_baseline 1
    grep '"event":"traffic_baseline"' "$out3" | grep -q '"skipped_hit_packets":[1-9]' ||
      fail "wire: the skipped counts are not said: $(grep traffic_baseline "$out3")"
    wait_events "$out3" traffic 2
    [ "$(hits_of "$spool" "$ruleset.provenance.json" | cut -d' ' -f1)" = 12 ] ||
      fail "wire: without a baseline the spool went to $(hits_of "$spool" "$ruleset.provenance.json") hits, not 12"
    pass "wire: without a baseline the restarted agent says what it skipped and counts nothing twice"
    cp "$WORK/policy.yaml.orig" "$WORK/policy/policy.yaml"
  fi
  # The CLI checks below read the case without the 3 extra connections.
  if [ "$form" = nft ]; then SPOOL=$spool; fi
  kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
  in_ns "$SERVER" nft delete table inet polder
}

# The hits the spool holds for the counters the provenance map attributes to clients-to-db's
# tcp/5432 element, printed as "ELEMENT RANGE" (packets), e.g. "7 16".
hits_of() {  # hits_of SPOOL PROVENANCE
  python3 - "$1" "$2" <<'PY'
import json, sys
prov = json.load(open(sys.argv[2]))
names = [f["name"] for f in prov["flows"]]
def counters(kind, match):
    return {c["counter"] for c in prov["counters"] if c["kind"] == kind and c["direction"] == "in"
            and "clients-to-db" in [names[i] for i in c["flows"]] and match(c)}
element = counters("service", lambda c: c.get("element") == "tcp . 5432")
# The clients' /28 is cut around db-1 (10.1.0.12): the range holding the client 10.1.0.11.
ranges = counters("peer_range", lambda c: c["element"].startswith("10.1.0.0-") and
                  any(p.get("zone") == "clients" for p in c["prefixes"]))
assert len(element) == 1 and len(ranges) == 1, (element, ranges)
total = {}
for line in open(sys.argv[1]):
    for h in json.loads(line).get("hits", []):
        total[h["counter"]] = total.get(h["counter"], 0) + h["packets"]
print(total.get(element.pop(), 0), total.get(ranges.pop(), 0))
PY
}

# wait_hits FORM SPOOL PROVENANCE N: waits (at most 10 s) for N packets on the element.
wait_hits() {
  local form=$1 spool=$2 prov=$3 n=$4 i got=""
  for i in $(seq 1 100); do
    got=$(hits_of "$spool" "$prov" 2>/dev/null) || got=""
    [ "${got%% *}" = "$n" ] && break
    sleep 0.1
  done
  [ "${got%% *}" = "$n" ] ||
    fail "$form: hits on clients-to-db's tcp/5432 element are '${got%% *}', not $n: $(tail -2 "$spool")"
  # The peer range counts every new packet from the clients (the allowed SYNs, the denied
  # datagrams and pings), so at least the allowed ones.
  [ "${got##* }" -ge "$n" ] || fail "$form: the clients' peer range counted ${got##* } < $n"
  pass "$form: $n hits on the tcp/5432 element attributed to clients-to-db, ${got##* } on the clients' range"
}

# The kernel's packet count of that element, read with nft.
kernel_hits() {  # kernel_hits PROVENANCE
  local set
  set=$(python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(next(c["set"] for c in p["counters"] if c.get("element") == "tcp . 5432" and c["direction"] == "in"))' "$1")
  in_ns "$SERVER" nft -j list set inet polder "$set" | python3 -c '
import json, sys
j = json.load(sys.stdin)
for o in j["nftables"]:
    for e in o.get("set", {}).get("elem", []):
        e = e.get("elem", e)
        if isinstance(e, dict) and "counter" in e and "5432" in json.dumps(e["val"]):
            print(e["counter"]["packets"])'
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
