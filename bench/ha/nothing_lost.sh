#!/usr/bin/env bash
# "Nothing lost" (issue 12): OPS publish, quarantine and release operations against 3
# controllers on a 3-member etcd cluster while, every 5-10 s, a controller is SIGKILLed (and
# started again) or paused, or the etcd leader is paused. A simulated fleet of AGENTS hosts
# (polder_ha_fleet_sim) stays connected throughout. All on loopback; as root or not.
#
#   bench/ha/nothing_lost.sh BUILD [OPS=1000] [AGENTS=300]
#
# Checks, and exits 1 when one fails:
#   - every acknowledged operation (the command exited 0) is in the audit log exactly once, and
#     in the order the operations were acknowledged; an unacknowledged one at most once (it may
#     have landed: a quarantine without quorum is in force and recorded later);
#   - no simulated host was ever sent an assignment of a lower generation than one it applied;
#   - after the last fault every host is in sync on a live stream (the time it took is printed;
#     the goal is 5 s).
set -euo pipefail
BUILD=$(cd "${1:?usage: nothing_lost.sh BUILD [OPS] [AGENTS]}" && pwd)
OPS=${2:-1000}
AGENTS=${3:-300}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
POLDER=$BUILD/bin/polder
POLDER_CONTROLLER=$BUILD/bin/polder-controller
# shellcheck source=../../tests/ha/lib.sh
source "$ROOT/tests/ha/lib.sh"
ha_init nothing-lost

POLICY=$HA_DIR/policy
python3 "$ROOT/bench/ha/gen_fleet_policy.py" "$POLICY" "$AGENTS" 22
ha_etcd_cluster 3
for i in 1 2 3; do ha_controller_start "$i" "$POLICY"; done
RUN=$HA_DIR/run
mkdir -p "$RUN"
CONTROLLERS="$(ha_controller_addr 1),$(ha_controller_addr 2),$(ha_controller_addr 3)"
ha_spawn sim "$BUILD/bin/polder_ha_fleet_sim" --controllers "$CONTROLLERS" --first 0 \
  --count "$AGENTS" --dir "$RUN"
ha_wait 120000 "the simulated agents are in sync" test -f "$RUN/ready.0"

# Faults, every 5-10 s, until $RUN/faults.stop exists. Each is undone before the next.
faults() {
  local n=0 c leader
  while [ ! -f "$RUN/faults.stop" ]; do
    sleep "$((5 + RANDOM % 6))"
    [ -f "$RUN/faults.stop" ] && break
    n=$((n + 1))
    c=$((1 + RANDOM % 3))
    case $((RANDOM % 3)) in
      0)
        echo "$(ha_now_ms) fault $n: SIGKILL controller $c, started again 1 s later"
        ha_controller_kill "$c" || true
        sleep 1
        ha_controller_start "$c" "$POLICY" >/dev/null 2>&1
        ;;
      1)
        echo "$(ha_now_ms) fault $n: SIGSTOP controller $c for 3 s"
        kill -STOP "$(ha_pid "controller$c")"
        sleep 3
        kill -CONT "$(ha_pid "controller$c")"
        ;;
      2)
        leader=$(ha_etcd_leader || echo 1)
        echo "$(ha_now_ms) fault $n: SIGSTOP etcd member $leader (the leader) for 3 s"
        kill -STOP "$(ha_pid "etcd$leader")"
        sleep 3
        kill -CONT "$(ha_pid "etcd$leader")"
        ;;
    esac
    echo "$(ha_now_ms) fault $n undone"
  done
}
faults >"$RUN/faults.log" 2>&1 &
faults_pid=$!

# The operations: publish (a new admin port each time), quarantine a host, release it.
start=$(ha_now_ms)
acked=0
for i in $(seq 1 "$OPS"); do
  c=$((1 + RANDOM % 3))
  addr=$(ha_controller_addr "$c")
  target=$(printf 'h%05d' $((((i - 1) / 3) % AGENTS)))  # the release lifts the quarantine before it
  case $((i % 3)) in
    1)
      kind=publish
      python3 "$ROOT/bench/ha/gen_fleet_policy.py" "$RUN/p" "$AGENTS" $((3000 + i))
      args=(publish --controller "$addr" --insecure "$RUN/p" --reason "op-$i")
      ;;
    2)
      kind=quarantine
      args=(quarantine --controller "$addr" --insecure "$target" --reason "op-$i")
      ;;
    0)
      kind=release
      args=(release --controller "$addr" --insecure "$target" --reason "op-$i")
      ;;
  esac
  if timeout 30 "$POLDER" "${args[@]}" >"$RUN/op.out" 2>&1; then
    rc=0
    acked=$((acked + 1))
  else
    rc=$?
  fi
  echo "$i $kind $target $rc $(ha_now_ms) $(tail -1 "$RUN/op.out" | tr -s ' \t' ' ' | cut -c1-160)" >>"$RUN/ops.log"
done
ops_ms=$(($(ha_now_ms) - start))
touch "$RUN/faults.stop"
wait "$faults_pid" || true
last_fault=$(ha_now_ms)
# Whatever the last fault left stopped goes on again (it was undone, but be sure).
for p in "$HA_DIR"/pids/*; do kill -CONT "$(cat "$p")" 2>/dev/null || true; done
echo "$last_fault" >"$RUN/settle.1.tmp" && mv "$RUN/settle.1.tmp" "$RUN/settle.1"
ha_wait 90000 "the fleet settles" test -f "$RUN/settled.1.0"
read -r in_sync hosts settle_ms regressions <"$RUN/settled.1.0"

live=""
for i in 1 2 3; do
  "$POLDER" status --controller "$(ha_controller_addr "$i")" --insecure >/dev/null 2>&1 && live=$i && break
done
[ -n "$live" ] || ha_die "no controller answers after the faults"
"$POLDER" audit --controller "$(ha_controller_addr "$live")" --insecure --format json \
  --limit 10000 >"$RUN/audit.json" 2>/dev/null
touch "$RUN/stop"

faults_n=$(grep -c 'fault [0-9]*:' "$RUN/faults.log" || true)
echo "nothing lost: $OPS operations ($acked acknowledged) in $ops_ms ms under $faults_n faults, $AGENTS simulated agents"
echo "  faults: $(grep -c 'SIGKILL controller' "$RUN/faults.log" || true) controller kills, $(grep -c 'SIGSTOP controller' "$RUN/faults.log" || true) controller pauses, $(grep -c 'SIGSTOP etcd' "$RUN/faults.log" || true) etcd leader pauses"
audit_ok=0
python3 - "$RUN/ops.log" "$RUN/audit.json" <<'EOF' || audit_ok=1
import collections, json, sys
ops = [line.split(" ", 5) for line in open(sys.argv[1]) if line.strip()]
entries = json.load(open(sys.argv[2]))["entries"]
by_reason = collections.defaultdict(list)
for e in entries:
    if e["reason"].startswith("op-") and e["kind"] in ("publish", "quarantine", "release"):
        by_reason[e["reason"]].append(e)
bad, order, maybe = [], [], 0
for i, kind, target, rc, at, *out in ops:
    found = [e for e in by_reason.get("op-" + i, []) if e["kind"] == kind]
    if rc == "0":
        if len(found) != 1:
            bad.append(f"op-{i} {kind} {target}: acknowledged, in the audit log {len(found)} times")
        else:
            order.append((int(i), found[0]["id"]))
    else:
        maybe += len(found) == 1
        if len(found) > 1:
            bad.append(f"op-{i} {kind} {target}: not acknowledged, yet in the audit log {len(found)} times")
ids = [entry_id for _, entry_id in order]
if ids != sorted(ids):
    first = next(k for k in range(1, len(ids)) if ids[k] < ids[k - 1])
    bad.append(f"acknowledged operations out of order in the audit log: op-{order[first - 1][0]} after op-{order[first][0]}")
print(f"  acknowledged and audited exactly once, in order: {len(order)}; unacknowledged that landed: {maybe}")
for b in bad[:10]:
    print("  LOST OR DOUBLED: " + b)
sys.exit(1 if bad else 0)
EOF
awk '$4 != 0 {print "  not acknowledged: op-" $1 " " $2 " " $3 " (exit " $4 "): " substr($0, index($0, $6))}' "$RUN/ops.log" | head -5
echo "  generation regressions sent to agents: $regressions (goal 0)"
echo "  after the last fault: $in_sync/$hosts in sync, the last sync $settle_ms ms after it (goal < 5000 ms)"
[ "$audit_ok" = 0 ] && [ "$regressions" = 0 ] && [ "$in_sync" = "$hosts" ] || exit 1
