#!/usr/bin/env bash
# Rollout latency in a real lab: polder-controller and N polder-agents (default 50), each in its
# own network namespace on a bridge, mutual TLS. Measures the time from writing a policy file to
# every agent having applied the new revision (as `polder status` reports it), ROUNDS times.
#
# Usage (root): bench/fleet/lab_rollout.sh BUILD_DIR [AGENTS] [ROUNDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build}
agents=${2:-50}
rounds=${3:-5}
export POLDER=$build/bin/polder POLDER_CONTROLLER=$build/bin/polder-controller
export POLDER_AGENT=$build/bin/polder-agent
# shellcheck source=../../tests/fleet/lib.sh
. "$top/tests/fleet/lib.sh"
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 1; }

fleet_init "pb-$$-"
python3 "$top/bench/fleet/gen_policy.py" "$FLEET_DIR/policy" "$agents"
t0=$(date +%s%N)
fleet_network "$FLEET_DIR/policy"
fleet_pki
fleet_controller_start
fleet_agents_start
fleet_wait_converged 120 || fleet_die "the lab did not converge"
echo "lab: $(fleet_hosts | wc -l) agents up and converged in $((($(date +%s%N) - t0) / 1000000)) ms"

results=()
for r in $(seq "$rounds"); do
  old=$(fleet_revision)
  # A new flow between two zones: every host's ruleset header (the revision) changes, so every
  # agent gets a new ruleset.
  printf 'flows:\n  - name: extra-%s\n    from: z1\n    to: z2\n    services: svc%s\n' \
    "$r" "$((r % 10))" >"$FLEET_DIR/policy/flows/extra.yaml.tmp"
  start=$(date +%s%N)
  mv "$FLEET_DIR/policy/flows/extra.yaml.tmp" "$FLEET_DIR/policy/flows/extra.yaml"
  fleet_wait_converged 60 "$old" || fleet_die "round $r did not converge within 60 s"
  ms=$((($(date +%s%N) - start) / 1000000))
  results+=("$ms")
  echo "round $r: all $(fleet_hosts | wc -l) agents applied the new revision ${ms} ms after the file write"
done
sorted=$(printf '%s\n' "${results[@]}" | sort -n)
echo "rollout to $(fleet_hosts | wc -l) agents: min $(echo "$sorted" | head -1) ms," \
  "median $(echo "$sorted" | sed -n "$(((rounds + 1) / 2))p") ms, max $(echo "$sorted" | tail -1) ms" \
  "(status polled every 50 ms; includes inotify, compile, send, apply, report)"
