#!/usr/bin/env bash
# The large host of issue 10 under polder-agent: writes its policy (big_host_policy.py, by
# default 2,000 zones x 1-4 prefixes x 25 of 500 services = 50,000 flows), compiles db-1's
# ruleset in the wire form (`polder compile --format wire`), starts `polder-agent --ruleset`
# in a network namespace of its own (removed on exit; the root namespace's ruleset is never
# touched) and measures, ROUNDS times each:
#   start  -> the agent's `applied` event (wall, from the launch of the process)
#   restore after a one-rule tamper, a flushed chain, a removed map element, a deleted table:
#          from the tampering `nft` command's return to the agent's `restored` event (wall),
#          and the agent's own restore time (`duration_ms` of the event)
# Prints one line per measurement and the medians.
# usage: big_host_agent.sh POLDER POLDER_AGENT [ZONES [PER_ZONE [SERVICES [ROUNDS]]]]   (root)
set -euo pipefail
POLDER=$1
AGENT=$2
zones=${3:-2000} per_zone=${4:-25} services=${5:-500} rounds=${6:-5}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../tests/agent/lib.sh"

python3 "$here/../render/big_host_policy.py" "$WORK/policy" "$zones" "$per_zone" "$services"
"$POLDER" compile "$WORK/policy" --host db-1 --format wire -o "$WORK/db-1.wire" >/dev/null
echo "db-1.wire: $(wc -c <"$WORK/db-1.wire") bytes"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_more FILE EVENT N: like wait_events, with a finer poll and a 30 s bound.
wait_more() {
  local i
  for i in $(seq 1 6000); do
    [ "$(count_events "$1" "$2")" -ge "$3" ] && return 0
    sleep 0.005
  done
  fail "timed out waiting for $3 '$2' events in $1"
}
last_duration() { grep "\"event\":\"$2\"" "$1" | tail -1 | sed -n 's/.*"duration_ms":\([0-9.]*\).*/\1/p'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A walls durations
starts=()
for ((r = 1; r <= rounds; r++)); do
  new_ns NS
  OUT=$WORK/agent-$r.jsonl
  : >"$OUT"
  t0=$(now_ms)
  start_agent "$NS" "$OUT" "$WORK/db-1.wire" --full-check-interval 600
  wait_more "$OUT" applied 1
  starts+=($(($(now_ms) - t0)))
  grep -q '"via":"libnftnl"' "$OUT" || fail "not applied through libnftnl"
  n=0
  in_ns "$NS" nft list map inet polder in4 >"$WORK/in4.txt"
  element=$(grep -o -m1 '[0-9.]*/[0-9]* counter' "$WORK/in4.txt" | awk '{print $1; exit}')
  [ -n "$element" ] || fail "no element in map in4"
  for kind in rule chain element table; do
    case $kind in
      rule) cmd=(add rule inet polder input tcp dport 40000 accept) ;;
      chain) cmd=(flush chain inet polder input) ;;
      element) cmd=(delete element inet polder in4 "{ $element }") ;;
      table) cmd=(delete table inet polder) ;;
    esac
    in_ns "$NS" nft "${cmd[@]}"
    t=$(now_ms)
    n=$((n + 1))
    wait_more "$OUT" restored "$n"
    walls[$kind]+="$(($(now_ms) - t)) "
    durations[$kind]+="$(last_duration "$OUT" restored) "
  done
  kill "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null || true
  ip netns del "$NS"
done
echo "start -> applied (ms): ${starts[*]}   median $(median "${starts[@]}")"
for kind in rule chain element table; do
  read -ra w <<<"${walls[$kind]}"
  read -ra d <<<"${durations[$kind]}"
  echo "restore after $kind tamper: wall from the tamper's return (ms) ${w[*]}  median $(median "${w[@]}");" \
    "agent's restore (ms) ${d[*]}  median $(median "${d[@]}")"
done
