#!/usr/bin/env bash
# Benchmark of `polder check` on a synthetic policy (issue: 1,000 zones /
# 100,000 hosts / 50,000 flows; goal < 1 s and < 1 GiB on 2 cores).
# Usage: bench/check/check_bench.sh BUILD_DIR [ZONES HOSTS FLOWS RUNS]
# Prints each run's wall time and peak RSS, then the median.
set -euo pipefail
build=${1:?build dir}
zones=${2:-1000}
hosts=${3:-100000}
flows=${4:-50000}
runs=${5:-5}
gen=$(find "$build" -name polder_gen_policy -type f -perm -u+x | head -n 1)
polder="$build/bin/polder"
[ -x "$gen" ] || { echo "polder_gen_policy not built" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$gen" --zones "$zones" --hosts "$hosts" --flows "$flows" --seed 1 "$dir/policy" >/dev/null
echo "policy: $zones zones, $hosts hosts, $flows flows, $(du -sh "$dir/policy" | cut -f1) of YAML"
times=()
for i in $(seq "$runs"); do
  /usr/bin/time -f "%e %M" -o "$dir/time" "$polder" check "$dir/policy" --now 2026-11-24T00:00:00Z \
    --warn-expiry 0 >/dev/null 2>&1 || true
  read -r secs kb < <(tail -n 1 "$dir/time")
  echo "run $i: ${secs} s, peak ${kb} KiB"
  times+=("$secs")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median: ${median} s over $runs runs"
