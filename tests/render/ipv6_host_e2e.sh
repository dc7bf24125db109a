#!/bin/bash
# A managed host keeps SLAAC working under its ruleset (spec §7, host
# essentials): a router namespace runs radvd with 10 s lifetimes, a host
# namespace loads its compiled ruleset before its link comes up, and must get
# an address from the prefix and a default route, and keep both past their
# lifetime. Negative control: the same ruleset without router advertisements
# gets no address. Exits 77 (skip) when radvd is missing.
# usage: ipv6_host_e2e.sh POLDER SOURCE_DIR
set -euo pipefail
polder=$1 src=$2
radvd=/usr/sbin/radvd
if [ ! -x "$radvd" ]; then
  if grep -qw radvd "$src/scripts/install-deps.sh" 2>/dev/null; then
    apt-get install -y radvd >/dev/null 2>&1 || true
  fi
  [ -x "$radvd" ] || { echo "SKIP: $radvd is missing"; exit 77; }
fi
work=$(mktemp -d)
r=pt-$$-v6r h=pt-$$-v6h n=pt-$$-v6n
cleanup() {
  [ -f "$work/radvd.pid" ] && kill "$(cat "$work/radvd.pid")" 2>/dev/null || true
  [ -n "${radvd_pid:-}" ] && kill "$radvd_pid" 2>/dev/null || true
  for ns in "$r" "$h" "$n"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/policy"
cat >"$work/policy/policy.yaml" <<'YAML'
zones:
  - name: lan
    cidrs: ["2001:db8:77::/64", 10.77.0.0/24]
hosts:
  - name: host-1
    addresses: ["2001:db8:77::10"]
YAML
"$polder" compile "$work/policy" --out "$work/out" --now 2026-01-01T00:00:00Z >/dev/null
ruleset=$work/out/host-1.nft
grep -q 'nd-router-advert' "$ruleset" || { echo "ruleset has no router advertisement rule"; exit 1; }
sed 's/nd-router-advert, //' "$ruleset" >"$work/no-ra.nft"
! grep -q 'nd-router-advert' "$work/no-ra.nft"

for ns in "$r" "$h" "$n"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n "$r" link add r0 type veth peer name h0 netns "$h"
ip -n "$r" link add r1 type veth peer name h0 netns "$n"
# The rulesets land before the links come up.
ip netns exec "$h" nft -f "$ruleset"
ip netns exec "$n" nft -f "$work/no-ra.nft"
for ns in "$h" "$n"; do
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.forwarding=0 net.ipv6.conf.h0.accept_ra=1 \
    net.ipv6.conf.h0.autoconf=1
done
ip netns exec "$r" sysctl -qw net.ipv6.conf.all.forwarding=1
cat >"$work/radvd.conf" <<'CONF'
interface r0 {
  AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; AdvDefaultLifetime 10;
  prefix 2001:db8:77::/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 10; AdvPreferredLifetime 6; };
};
interface r1 {
  AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; AdvDefaultLifetime 10;
  prefix 2001:db8:77::/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 10; AdvPreferredLifetime 6; };
};
CONF
chmod 644 "$work/radvd.conf"
ip -n "$r" link set r0 up; ip -n "$r" link set r1 up
ip netns exec "$r" "$radvd" -n -C "$work/radvd.conf" -p "$work/radvd.pid" -m logfile \
  -l "$work/radvd.log" &
radvd_pid=$!
ip -n "$h" link set h0 up; ip -n "$n" link set h0 up

valid_lft() {  # the valid_lft in seconds of h0's address from the prefix, or empty
  ip -n "$1" -6 addr show dev h0 scope global | awk '
    /inet6 2001:db8:77:/ { found = 1; next }
    found && /valid_lft/ { sub("sec", "", $2); print $2; exit }'
}
has_default() { ip -n "$1" -6 route show default | grep -q 'via fe80::.* dev h0'; }

# Positive signals, bounded: an address and a default route, then the
# address's valid_lft going back up and both still there past the 10 s
# lifetime.
start=$SECONDS first="" prev="" renewed=0 ok=0
while [ $((SECONDS - start)) -lt 40 ]; do
  lft=$(valid_lft "$h")
  if [ -n "$lft" ] && has_default "$h"; then
    [ -z "$first" ] && first=$SECONDS && echo "address and default route after $((SECONDS - start)) s"
    [ -n "$prev" ] && [ "$lft" != forever ] && [ "$lft" -gt "$prev" ] && renewed=1
    if [ "$renewed" = 1 ] && [ $((SECONDS - first)) -ge 14 ]; then ok=1; break; fi
  elif [ -n "$first" ]; then
    echo "address or default route lost after $((SECONDS - first)) s"; break
  fi
  prev=$lft
  sleep 1
done
if [ "$ok" != 1 ]; then
  echo "FAIL: no renewed SLAAC address and default route (first=${first:-never} renewed=$renewed)"
  ip -n "$h" -6 addr show dev h0; ip -n "$h" -6 route; cat "$work/radvd.log" || true
  exit 1
fi
echo "address and default route renewed past their 10 s lifetime"
# Negative control: the same window without router advertisements.
if [ -n "$(valid_lft "$n")" ] || has_default "$n"; then
  echo "FAIL: the ruleset without router advertisements still got SLAAC"
  ip -n "$n" -6 addr show dev h0; exit 1
fi
echo "negative control: no address or default route without router advertisements"
