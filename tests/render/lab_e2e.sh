#!/bin/bash
# End to end: bring policies up in a lab (real agents, real kernel), probe the full table
# (every port class of every pair), and require that nothing disagrees with Decide, that the
# table is complete and its summary counts are those of its rows (tests/lab/probe_table.py),
# and that --complete exits 1 exactly when a case was skipped. Always tears down.
# usage: lab_e2e.sh POLDER AGENT SOURCE_DIR (bundled|random N)
set -uo pipefail
polder=$1 agent=$2 src=$3 what=$4 n=${5:-10}
export POLDER_LAB_DIR=$(mktemp -d)
work=$(mktemp -d)
labs=()
cleanup() {
  for l in "${labs[@]}"; do "$polder" lab down --name "$l" >/dev/null 2>&1; done
  rm -rf "$work" "$POLDER_LAB_DIR"
}
trap cleanup EXIT INT TERM
now=2026-01-01T00:00:00Z
dirs=()
if [ "$what" = bundled ]; then
  # tests/lab/smb: tcp/445 and the controller's tcp/7443 among more ports than the old sample.
  dirs=("$src/policies/municipality" "$src/policies/shared-service" "$src/tests/lab/smb")
else
  for ((i = 1; i <= n; i++)); do
    python3 "$src/tests/render/random_policy.py" "$((1000 + i))" "$work/p$i"; dirs+=("$work/p$i")
  done
fi
k=0 failed=0
for d in "${dirs[@]}"; do
  k=$((k + 1)); lab="t$$-$k"; labs+=("$lab")
  if ! "$polder" lab up "$d" --name "$lab" --ns-prefix "pt-$$-$k-" --agent "$agent" --now "$now" >/dev/null; then
    echo "lab up failed for $d"; failed=1; continue
  fi
  "$polder" lab probe --name "$lab" --now "$now" --complete --format json >"$work/probe-$k.json"
  rc=$?
  if ! python3 "$src/tests/lab/probe_table.py" "$POLDER_LAB_DIR/$lab/state.json" "$d" \
      "$work/probe-$k.json" "$rc" --complete; then
    echo "for $d"; [ -f "$d/policy.yaml" ] && cat "$d/policy.yaml"; failed=1
  fi
  if [ "$what" = bundled ]; then
    # The text summary says the same counts as the JSON.
    "$polder" lab probe --name "$lab" --now "$now" >"$work/probe-$k.txt"
    want=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))
print("%d cases (source, destination, port class), %d probed, %d skipped," % (t["cases"], t["probed"], t["skipped"]))' "$work/probe-$k.json")
    [ -n "$want" ] || { echo "could not read the JSON summary"; failed=1; }
    head -1 "$work/probe-$k.txt"
    grep -qF "$want" "$work/probe-$k.txt" || { echo "text summary is not: $want"; failed=1; }
    skipped=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["skipped"])' "$work/probe-$k.json")
    if [ "$skipped" != 0 ]; then
      grep -q "^NOT PROBED: $skipped of " "$work/probe-$k.txt" || { echo "text does not say what was not probed"; failed=1; }
    fi
  fi
  # lab down says what it removed: every namespace of the lab (and its bridge's), every agent.
  read -r n_ns n_agents < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
print(len(s["endpoints"]) + 1, len(s["agents"]))' "$POLDER_LAB_DIR/$lab/state.json")
  "$polder" lab down --name "$lab" >"$work/down-$k.txt" || failed=1
  grep -q "^lab $lab is down: removed $n_ns namespaces (.*), stopped $n_agents agent" "$work/down-$k.txt" ||
    { echo "lab down said: $(cat "$work/down-$k.txt"), want $n_ns namespaces and $n_agents agents"; failed=1; }
done
left=$(ip netns list | grep -c "^pt-$$-" || true)
[ "$left" = 0 ] || { echo "$left namespaces left behind"; failed=1; }
exit $failed
