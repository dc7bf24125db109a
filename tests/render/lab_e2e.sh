#!/bin/bash
# End to end: bring policies up in a lab (real agents, real kernel), probe
# every path, and require 0 disagreements with Decide. Always tears down.
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
  dirs=("$src/policies/municipality" "$src/policies/shared-service")
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
  if ! "$polder" lab probe --name "$lab" --now "$now" > "$work/probe-$k.txt"; then
    echo "disagreements for $d:"; cat "$work/probe-$k.txt"; [ -f "$d/policy.yaml" ] && cat "$d/policy.yaml"; failed=1
  else
    head -1 "$work/probe-$k.txt"
  fi
  "$polder" lab down --name "$lab" || failed=1
done
left=$(ip netns list | grep -c "^pt-$$-" || true)
[ "$left" = 0 ] || { echo "$left namespaces left behind"; failed=1; }
exit $failed
