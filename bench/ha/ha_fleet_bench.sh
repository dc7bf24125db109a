#!/usr/bin/env bash
# Several controllers on etcd under a simulated fleet (issue 12's failover and scale goals), as
# root or not, all on loopback: 3 etcd members (data on /dev/shm), 3 polder-controllers
# (--insecure) serving a generated policy of AGENTS hosts, and PROCS processes of
# polder_ha_fleet_sim (AGENTS/PROCS hosts each; the open-files limit is per process) whose hosts
# each keep a stream to the controller their rendezvous order prefers.
#
#   bench/ha/ha_fleet_bench.sh BUILD [AGENTS=10000] [PROCS=1] [ROUNDS=3] [FAILOVER=1]
#
# It measures
#   - ROUNDS one-flow changes (the admin flow's port, which every host's ruleset holds),
#     published with `polder publish` to controller 1: from the publish until every host has
#     acknowledged the new revision (goal < 2 s);
#   - with FAILOVER=1, a SIGKILL of controller 1 (about a third of the hosts): how long its hosts
#     take to be in sync on another controller (goal: 99% within 10 s, all within 30 s), how many
#     hosts on the other controllers lost their stream (goal 0) and how many unchanged rulesets
#     were sent again (goal 0).
# Everything it starts is stopped and removed on exit. It fails (exit 1) when a host never
# acknowledges, never gets back in sync after the kill, loses its stream on a surviving
# controller or is sent an unchanged ruleset again; the times are reported, not judged.
set -euo pipefail
BUILD=$(cd "${1:?usage: ha_fleet_bench.sh BUILD [AGENTS] [PROCS] [ROUNDS] [FAILOVER]}" && pwd)
AGENTS=${2:-10000}
PROCS=${3:-1}
ROUNDS=${4:-3}
FAILOVER=${5:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
POLDER=$BUILD/bin/polder
POLDER_CONTROLLER=$BUILD/bin/polder-controller
SIM=$BUILD/bin/polder_ha_fleet_sim
# shellcheck source=../../tests/ha/lib.sh
source "$ROOT/tests/ha/lib.sh"
ha_init fleet-bench
# PATTERN COUNT: at least COUNT files (not being written) match PATTERN.
have_files() {
  # shellcheck disable=SC2086
  [ "$(ls $1 2>/dev/null | grep -vc '\.tmp$')" -ge "$2" ]
}

POLICY=$HA_DIR/policy
python3 "$ROOT/bench/ha/gen_fleet_policy.py" "$POLICY" "$AGENTS" 22
ha_etcd_cluster 3
for i in 1 2 3; do ha_controller_start "$i" "$POLICY"; done
CONTROLLERS="$(ha_controller_addr 1),$(ha_controller_addr 2),$(ha_controller_addr 3)"
RUN=$HA_DIR/run
mkdir -p "$RUN"

per=$(((AGENTS + PROCS - 1) / PROCS))
start=$(ha_now_ms)
for p in $(seq 0 $((PROCS - 1))); do
  first=$((p * per))
  count=$((AGENTS - first < per ? AGENTS - first : per))
  ha_spawn "sim$p" "$SIM" --controllers "$CONTROLLERS" --first "$first" --count "$count" --dir "$RUN"
done
ha_wait 300000 "every simulator reports its agents in sync" have_files "$RUN/ready.*" "$PROCS"
if grep -q "NOT READY" "$RUN"/ready.*; then ha_die "some simulated agents never got in sync"; fi
load=$(cut -d' ' -f1 /proc/loadavg)
echo "fleet: $AGENTS simulated agents ($PROCS processes) on 3 controllers, 3 etcd members; in sync after $(($(ha_now_ms) - start)) ms; load $load"
for i in 1 2 3; do
  echo "  controller $i: $(ha_status "$i" | ha_json 'sum(1 for h in j["hosts"] if h.get("connected"))') hosts connected"
done

for k in $(seq 1 "$ROUNDS"); do
  NEXT=$HA_DIR/policy$k
  python3 "$ROOT/bench/ha/gen_fleet_policy.py" "$NEXT" "$AGENTS" $((2200 + k))
  revision=$("$POLDER" check "$NEXT" 2>&1 | sed -n 's/.*revision \([0-9a-f]\{64\}\).*/\1/p')
  [ -n "$revision" ] || ha_die "policy $k does not check"
  if [ -n "${BENCH_PERF:-}" ] && [ "$k" = 1 ]; then  # a system-wide profile of the first change
    if [ -n "${BENCH_PERF_CONTROLLER:-}" ]; then  # one controller, with call stacks
      perf record -F 299 --call-graph dwarf,16384 -p "$(ha_pid "controller$BENCH_PERF_CONTROLLER")" \
        -o "$BENCH_PERF" -- sleep 10 >/dev/null 2>&1 &
    else
      perf record -F 499 -g -a -o "$BENCH_PERF" -- sleep 12 >/dev/null 2>&1 &
    fi
    sleep 0.5
  fi
  t0=$(ha_now_ms)
  echo "$t0 $revision" >"$RUN/change.$k.tmp" && mv "$RUN/change.$k.tmp" "$RUN/change.$k"
  # The command waits for its controller's own rollout (up to 60 s); should it give up, the
  # publish is recorded all the same, and the agents' acknowledgements are what counts.
  publish_start=$(ha_now_ms)
  if ! "$POLDER" publish --controller "$(ha_controller_addr 1)" --insecure "$NEXT" \
    --reason "bench round $k" >"$RUN/publish.$k.out" 2>&1; then
    echo "  (polder publish gave up after $(($(ha_now_ms) - publish_start)) ms: $(tail -1 "$RUN/publish.$k.out"))"
  fi
  ha_wait 150000 "every simulator reports change $k" have_files "$RUN/changed.$k.*" "$PROCS"
  cat "$RUN"/changed."$k".* | awk -v t0="$t0" -v k="$k" '
    { acked += $1; hosts += $2; if ($3 > last) last = $3; if ($5 > p99) p99 = $5; if ($4 > p50) p50 = $4; re += $6 }
    END { printf "one-flow change %d: %d/%d acknowledged, the last %d ms after the publish (per process p50 <= %d ms, p99 <= %d ms), %d unchanged rulesets sent again (goal < 2000 ms)\n", k, acked, hosts, last - t0, p50, p99, re; exit (acked != hosts || re > 0) }'
done

if [ "$FAILOVER" = 1 ]; then
  victim=$(ha_controller_addr 1)
  t0=$(ha_now_ms)
  echo "$t0 $victim" >"$RUN/kill.tmp"
  ha_controller_kill 1 || true  # wait reports the SIGKILL
  mv "$RUN/kill.tmp" "$RUN/kill"
  ha_wait 90000 "every simulator reports the failover" have_files "$RUN/failover.*" "$PROCS"
  cat "$RUN"/failover.* | awk '
    { moved += $1; ok += $2; if ($4 > p99) p99 = $4; if ($5 > mx) mx = $5; if ($3 > p50) p50 = $3; w += $6; dropped += $7; re += $8 }
    END { printf "failover: controller 1 SIGKILLed with %d hosts; %d in sync on another controller (per process p50 <= %d ms, p99 <= %d ms, max %d ms); %.2f%% within 10 s (goal 99%%), all within 30 s: %s; %d hosts of the surviving controllers lost their stream (goal 0); %d unchanged rulesets sent again (goal 0)\n", moved, ok, p50, p99, mx, moved ? 100 * w / moved : 100, (ok == moved && mx <= 30000) ? "yes" : "NO", dropped, re; exit (ok != moved || dropped > 0 || re > 0) }'
fi
touch "$RUN/stop"
if [ -n "${BENCH_LOGS:-}" ]; then cp -r "$HA_DIR/logs/." "$BENCH_LOGS/"; fi
