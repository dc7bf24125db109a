#!/usr/bin/env bash
# Benchmark of `polder check` on a synthetic policy (issue 15: 1,000 zones /
# 100,000 hosts / 50,000 flows over about 20 files; cold < 1.5 s and < 1 GiB,
# warm cache < 0.5 s, on 2 cores; the same policy in one file next to
# yaml-cpp's bare parse time).
#
# Usage: bench/check/check_bench.sh BUILD_DIR [ZONES HOSTS FLOWS RUNS FILES]
# Prints each run's wall time, CPU time (user+sys: what the run costs even on a
# busy machine) and peak RSS, then the medians, for: the split policy without
# cache (cold), with a warm cache, and the policy as one file; and the bare
# parse of that one file.
set -euo pipefail
build=${1:?build dir}
zones=${2:-1000}
hosts=${3:-100000}
flows=${4:-50000}
runs=${5:-5}
files=${6:-20}
here=$(cd "$(dirname "$0")" && pwd)
gen=$(find "$build" -name polder_gen_policy -type f -perm -u+x | head -n 1)
bare=$(find "$build" -name polder_yaml_parse -type f -perm -u+x | head -n 1)
polder="$build/bin/polder"
[ -x "$gen" ] || { echo "polder_gen_policy not built" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$gen" --zones "$zones" --hosts "$hosts" --flows "$flows" --seed 1 --now 2026-11-24T00:00:00Z \
  "$dir/policy" >/dev/null
/usr/bin/python3 "$here/split_policy.py" "$dir/policy" "$dir/split" "$files"
mkdir -p "$dir/one"
cat "$dir"/policy/*.yaml | grep -v '^version:' | { echo "version: 1"; cat; } >"$dir/one/policy.yaml"
echo "policy: $zones zones, $hosts hosts, $flows flows, $(du -sh "$dir/policy" | cut -f1) of YAML;" \
  "split into $(ls "$dir/split" | wc -l) files"

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bench() {  # bench NAME POLICY_DIR FLAGS...
  local name=$1 policy=$2
  shift 2
  local walls=() cpus=() rss=()
  for i in $(seq "$runs"); do
    /usr/bin/time -f "%e %U %S %M" -o "$dir/time" "$polder" check "$policy" \
      --now 2026-11-24T00:00:00Z --warn-expiry 0 "$@" >/dev/null 2>&1 || true
    read -r secs user sys kb < <(tail -n 1 "$dir/time")
    walls+=("$secs")
    cpus+=("$(echo "$user + $sys" | bc)")
    rss+=("$kb")
  done
  echo "$name: wall $(median "${walls[@]}") s, cpu $(median "${cpus[@]}") s," \
    "peak $(($(median "${rss[@]}") / 1024)) MiB (medians of $runs; walls: ${walls[*]})"
}
bench "split, cold (--no-cache)" "$dir/split" --no-cache
"$polder" check "$dir/split" --cache "$dir/cache" --now 2026-11-24T00:00:00Z >/dev/null 2>&1 || true
bench "split, warm cache" "$dir/split" --cache "$dir/cache"
bench "split, cold, one thread" "$dir/split" --no-cache --jobs 1
bench "one file, cold" "$dir/one" --no-cache
"$polder" check "$dir/one" --cache "$dir/cache" --now 2026-11-24T00:00:00Z >/dev/null 2>&1 || true
bench "one file, warm cache" "$dir/one" --cache "$dir/cache"
if [ -x "$bare" ]; then
  echo "yaml-cpp bare parse of the one file: $("$bare" "$dir/one/policy.yaml" | tail -n 1)"
fi
