#!/bin/bash
# What observing traffic costs the kernel per new connection (issue 11's overhead goal: at most
# 1 µs), and what the agent costs while it collects (goal: under 5% of a core, 64 MiB).
#
# Two namespaces on a veth pair (pt-<pid>-*, removed at exit; never the root namespace's
# ruleset). The server's ruleset is `polder compile` output for a small policy (clients ->
# db-1 udp/5000-5999); "observed" is it as compiled, "bare" the same with the `update @seen_*`
# rules removed (the overflow-counter rule after each then takes the packet with the same
# verdict), so the difference is the cost of the observation-set update. Each datagram of
# udp_new_flows is a new conntrack entry; the server namespace is made again for every run so
# conntrack starts empty. Scenarios:
#   allowed-1      enforce, allowed, one tuple (the source port varies, the set key does not)
#   allowed-1000   enforce, allowed, 1,000 distinct tuples (destination ports 5000-5999)
#   woulddeny-1    audit, no flow, one tuple: the would-deny set
#   woulddeny-20k  audit, no flow, 20,000 distinct tuples: 8,192 fill the set, the rest are
#                  counted as overflow
# Then the agent (`polder-agent --ruleset R --traffic-spool S --traffic-interval 1s`) enforces
# the audit ruleset under RATE new connections/s for SECONDS, and its CPU share and peak RSS
# (VmHWM) are read from /proc.
# usage: observe_cost.sh POLDER POLDER_AGENT UDP_NEW_FLOWS [COUNT [REPS [RATE [SECONDS]]]]  (root)
set -euo pipefail
polder=$1 agent=$2 flood=$3
count=${4:-200000} reps=${5:-5} rate=${6:-50000} seconds=${7:-10}
c=pt-$$-cli s=pt-$$-srv
work=$(mktemp -d)
agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  ip netns del $c 2>/dev/null || true
  ip netns del $s 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

net_up() {  # fresh namespaces: conntrack empty
  ip netns del $c 2>/dev/null || true
  ip netns del $s 2>/dev/null || true
  ip netns add $c
  ip netns add $s
  ip -n $c link add eth0 type veth peer name eth0 netns $s
  ip -n $c addr add 192.168.77.1/24 dev eth0
  ip -n $s addr add 192.168.77.2/24 dev eth0
  for n in $c $s; do ip -n $n link set lo up; ip -n $n link set eth0 up; done
  # Resolve the neighbour once, so no datagram waits for ARP.
  ip netns exec $c ping -c1 -W1 192.168.77.2 >/dev/null 2>&1 || true
}

policy() {  # policy DIR MODE
  mkdir -p "$1"
  cat >"$1/policy.yaml" <<YAML
settings:
  mode: $2
zones:
  - name: clients
    cidrs: [192.168.77.0/28]
  - name: db
    cidrs: [192.168.77.2/32]
hosts:
  - name: client-1
    addresses: [192.168.77.1]
  - name: db-1
    addresses: [192.168.77.2]
services:
  - name: bulk
    ports: [udp/5000-5999]
flows:
  - name: clients-to-db
    from: clients
    to: db
    services: [bulk]
YAML
}
policy "$work/enforce" enforce
policy "$work/audit" audit
for m in enforce audit; do
  "$polder" compile "$work/$m" --host db-1 >"$work/$m.observed.nft"
  grep -v "update @seen_" "$work/$m.observed.nft" >"$work/$m.bare.nft"
  grep -q "update @seen_" "$work/$m.observed.nft" || { echo "no observation rules in $m" >&2; exit 1; }
done

run() {  # run RULESET DPORT_FROM DPORT_TO: ns per datagram
  net_up
  # The ping above went before the ruleset; a blocked ping would not matter either.
  ip netns exec $s nft -f "$1"
  ip netns exec $c "$flood" 192.168.77.1 192.168.77.2 "$2" "$3" "$count"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-14s %-10s %12s %12s %12s\n' scenario mode "bare ns" "observed ns" "added ns"
for sc in "allowed-1 enforce 5000 5000" "allowed-1000 enforce 5000 5999" \
          "woulddeny-1 audit 7000 7000" "woulddeny-20k audit 10000 29999"; do
  set -- $sc
  name=$1 mode=$2 from=$3 to=$4
  : >"$work/bare" ; : >"$work/observed"
  for r in $(seq "$reps"); do  # interleaved, so drift in machine load hits both alike
    run "$work/$mode.bare.nft" "$from" "$to" >>"$work/bare"
    run "$work/$mode.observed.nft" "$from" "$to" >>"$work/observed"
  done
  b=$(median <"$work/bare") o=$(median <"$work/observed")
  printf '%-14s %-10s %12s %12s %12s\n' "$name" "$mode" "$b" "$o" "$(awk -v b="$b" -v o="$o" 'BEGIN { printf "%.1f", o - b }')"
done
# The capped set: 8,192 elements at most, the rest counted.
net_up
ip netns exec $s nft -f "$work/audit.observed.nft"
ip netns exec $c "$flood" 192.168.77.1 192.168.77.2 10000 29999 20000 >/dev/null
held=$(ip netns exec $s nft -j list set inet polder seen_in4_would_deny | python3 -c '
import json, sys
s = [o["set"] for o in json.load(sys.stdin)["nftables"] if "set" in o][0]
print(len(s.get("elem", [])))')
over=$(ip netns exec $s nft -j list counter inet polder seen_in4_would_deny_overflow | python3 -c '
import json, sys
print([o["counter"] for o in json.load(sys.stdin)["nftables"] if "counter" in o][0]["packets"])')
echo "20,000 distinct would-deny tuples: $held in the set, $over counted as overflow (sum $((held + over)))"
[ "$held" -le 8192 ] && [ $((held + over)) -eq 20000 ] || { echo "tuples lost without a count" >&2; exit 1; }

# The agent under load.
net_up
ip netns exec $s "$agent" --ruleset "$work/audit.observed.nft" --traffic-spool "$work/spool.jsonl" \
  --traffic-interval 1s >"$work/agent.jsonl" 2>&1 &
agent_pid=$!
for _ in $(seq 200); do grep -q '"applied"' "$work/agent.jsonl" && break; sleep 0.05; done
grep -q '"applied"' "$work/agent.jsonl" || { cat "$work/agent.jsonl" >&2; exit 1; }
ticks() { awk '{ print $14 + $15 }' "/proc/$agent_pid/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks)
start=$(date +%s.%N)
ip netns exec $c "$flood" 192.168.77.1 192.168.77.2 10000 29999 $((rate * seconds)) "$rate" >/dev/null
sleep 1.5  # one more report, which reads what the flood left
t1=$(ticks)
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$agent_pid/status")
reports=$(grep -c . "$work/spool.jsonl" || true)
awk -v t=$((t1 - t0)) -v hz="$hz" -v a="$start" -v b="$end" -v kb="$hwm" -v n="$reports" -v r="$rate" 'BEGIN {
  printf "agent at %d new connections/s: %.2f%% of one core over %.1f s, peak RSS %.1f MiB, %d reports spooled\n",
         r, 100 * t / hz / (b - a), b - a, kb / 1024, n }'
