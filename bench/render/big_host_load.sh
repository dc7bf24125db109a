#!/bin/bash
# Load time of the large host of issue 10: writes its policy
# (big_host_policy.py: ZONES zones x 1-4 prefixes, PER_ZONE of SERVICES
# services each, defaults 2000 25 500 = 50,000 flows), compiles db-1's
# ruleset, and times `nft -f` of it REPEAT times in a network namespace of its
# own (pt-<pid>-load, removed on exit; the root namespace's ruleset is never
# touched): the first load into an empty namespace, the others replacing the
# table, as an apply does. Prints wall, user and sys seconds per load.
# usage: big_host_load.sh POLDER [ZONES [PER_ZONE [SERVICES [REPEAT]]]]   (root)
set -euo pipefail
polder=$1 zones=${2:-2000} per_zone=${3:-25} services=${4:-500} repeat=${5:-3}
here=$(cd "$(dirname "$0")" && pwd)
ns=pt-$$-load
work=$(mktemp -d)
cleanup() { ip netns del $ns 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
python3 "$here/big_host_policy.py" "$work/policy" "$zones" "$per_zone" "$services"
"$polder" compile "$work/policy" --host db-1 > "$work/db-1.nft"
echo "db-1.nft: $(wc -c < "$work/db-1.nft") bytes, $(grep -c ' : jump ' "$work/db-1.nft") map ranges," \
  "$(grep -c '^  chain ' "$work/db-1.nft") chains"
ip netns add $ns
printf "%-6s %8s %8s %8s\n" load wall_s user_s sys_s
for ((i = 1; i <= repeat; i++)); do
  TIMEFORMAT="%R %U %S"
  t=$( { time ip netns exec $ns nft -f "$work/db-1.nft" >/dev/null; } 2>&1 )
  read -r wall user sys <<< "$t"
  printf "%-6s %8s %8s %8s\n" "$i" "$wall" "$user" "$sys"
done
# The table is there (listed in full first: grep -q would close the pipe early under pipefail).
ip netns exec $ns nft list table inet polder > "$work/listed"
grep -q 'ip saddr vmap @in4' "$work/listed"
