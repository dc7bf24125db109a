#!/usr/bin/env bash
# polder against Capirca (Debian python3-capirca) on the same policy, in one run
# (issue 15: polder check + polder compile --out at least 20x faster).
#
# Usage: bench/capirca/capirca_bench.sh BUILD_DIR [ZONES FLOWS SERVICES RUNS]
# Generates ZONES zones (default 1000) with one host each, SERVICES services
# (200) and FLOWS flows (10000) with polder_gen_policy, writes the same policy
# in Capirca's language (to_capirca.py) and times, RUNS times (3) each,
# alternating: Capirca's aclgen rendering it as one nftables filter, and
# `polder check` followed by `polder compile --out` (every host's ruleset),
# once without the parse cache and once with a warm one. Prints each run and
# the medians and ratios. No invariants: the policy must pass check, or compile
# would refuse it and write nothing.
set -euo pipefail
build=${1:?build dir}
zones=${2:-1000}
flows=${3:-10000}
services=${4:-200}
runs=${5:-3}
here=$(cd "$(dirname "$0")" && pwd)
gen=$(find "$build" -name polder_gen_policy -type f -perm -u+x | head -n 1)
polder="$build/bin/polder"
[ -x "$gen" ] || { echo "polder_gen_policy not built" >&2; exit 2; }
[ -x /usr/bin/aclgen ] || { echo "aclgen missing: apt-get install python3-capirca" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
now=2026-11-24T00:00:00Z
"$gen" --zones "$zones" --hosts "$zones" --flows "$flows" --services "$services" --invariants 0 \
  --seed 1 --now "$now" "$dir/policy" >/dev/null
/usr/bin/python3 "$here/to_capirca.py" "$dir/policy" "$dir/capirca"
echo "policy: $zones zones, $zones hosts, $services services, $flows flows;" \
  "$(grep -c '^term ' "$dir/capirca/policies/pol/polder.pol") Capirca terms"

seconds() {  # runs "$@", prints its wall time in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
capirca() {
  rm -rf "$dir/capirca/out" && mkdir -p "$dir/capirca/out"
  /usr/bin/python3 /usr/bin/aclgen --base_directory="$dir/capirca/policies" \
    --definitions_directory="$dir/capirca/def" --output_directory="$dir/capirca/out"
}
polder_both() {  # check, then compile --out, as a CI job runs them
  rm -rf "$dir/out"
  "$polder" check "$dir/policy" --now "$now" "$@" && true
  "$polder" compile "$dir/policy" --out "$dir/out" --now "$now" "$@"
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

polder_both --cache "$dir/cache" >/dev/null 2>&1 || true  # warms the cache
c=() p=() w=()
for i in $(seq "$runs"); do
  c+=("$(seconds capirca)")
  p+=("$(seconds polder_both --no-cache)")
  w+=("$(seconds polder_both --cache "$dir/cache")")
  echo "run $i: capirca ${c[-1]} s, polder check+compile ${p[-1]} s (no cache), ${w[-1]} s (warm cache)"
done
[ -s "$dir/capirca/out/polder.nft" ] || { echo "Capirca wrote no filter" >&2; exit 1; }
[ -s "$dir/out/manifest.json" ] || { echo "polder wrote no rulesets" >&2; exit 1; }
mc=$(median "${c[@]}") mp=$(median "${p[@]}") mw=$(median "${w[@]}")
echo "median: capirca $mc s; polder $mp s (no cache), $mw s (warm cache)"
echo "ratio: $(echo "scale=1; $mc / $mp" | bc)x (no cache), $(echo "scale=1; $mc / $mw" | bc)x (warm cache)"
