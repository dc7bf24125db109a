#!/bin/bash
# Every ruleset of the bundled policies and of N random policies must pass the
# real nft parser (`nft -c`) inside a fresh network namespace (never the root
# namespace's ruleset).
# usage: nft_check.sh POLDER SOURCE_DIR [N]
set -euo pipefail
polder=$1 src=$2 n=${3:-40}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
now=2026-01-01T00:00:00Z
dirs=("$src/policies/municipality" "$src/policies/shared-service")
for ((i = 1; i <= n; i++)); do
  python3 "$src/tests/render/random_policy.py" "$i" "$work/p$i"; dirs+=("$work/p$i")
done
count=0
for d in "${dirs[@]}"; do
  out="$work/out-$(basename "$d")"
  "$polder" compile "$d" --out "$out" --now "$now" 2>/dev/null
  for f in "$out"/*.nft; do
    if ! unshare -n nft -c -f "$f"; then echo "nft rejects $f (policy $d)"; cat "$f"; exit 1; fi
    count=$((count + 1))
  done
done
echo "nft -c accepted $count rulesets"
[ "$count" -gt 0 ]
