#!/bin/bash
# Packet cost and load time: the same N flows in polder's layout (an interval
# verdict map from peer address to a service-profile chain holding a small
# set, see docs/ruleset-layout.md), in the layout polder used before (one
# interval concatenation set of address . service), and as one rule per flow,
# at N = 10 ... 100,000 (or the N given).
# Each flow allows one source /32 (ICMP echo-request); in the map layout the
# flows are spread over N/25 profiles (at least one), as zones spread over
# service profiles. The probe traffic (ICMP echo from the client, matching
# the LAST flow) is evaluated on every packet (no conntrack shortcut), so the
# chain cost is paid per packet. Measures `nft -f` of the table (replacing it)
# and the time of `ping -f -c COUNT` between two namespaces this script
# creates (pt-<pid>-*) and removes; never touches the root namespace ruleset.
# usage: [LAYOUTS="map concat rules"] packet_cost.sh [COUNT [N...]]   (root)
set -euo pipefail
count=${1:-20000}
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 100 1000 10000 100000)
c=pt-$$-cli s=pt-$$-srv
work=$(mktemp -d)
cleanup() { ip netns del $c 2>/dev/null || true; ip netns del $s 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
ip netns add $c; ip netns add $s
ip -n $c link add eth0 type veth peer name eth0 netns $s
ip -n $c addr add 192.168.77.1/24 dev eth0; ip -n $s addr add 192.168.77.2/24 dev eth0
for n in $c $s; do ip -n $n link set lo up; ip -n $n link set eth0 up; done

gen() {  # gen MODE N > file
  local mode=$1 n=$2
  echo "table inet bench"; echo "delete table inet bench"; echo "table inet bench {"
  case $mode in
    map)
      awk -v n="$n" 'BEGIN {
        p = int(n / 25); if (p < 1) p = 1
        for (k = 0; k < p; k++) {
          printf "  set p%d_icmp { type icmp_type; elements = { echo-request } }\n", k
          printf "  chain p%d {\n    icmp type @p%d_icmp accept\n  }\n", k, k
        }
        print "  map in4 { type ipv4_addr : verdict; flags interval; elements = {"
        for (i = 1; i < n; i++) printf "    10.%d.%d.%d : jump p%d,\n", int(i/65536)%256, int(i/256)%256, i%256, i % p
        print "    192.168.77.1 : jump p0 }"
        print "  }"
        print "  chain input { type filter hook input priority filter; policy drop;"
        print "    ip saddr vmap @in4"
      }' ;;
    concat)
      echo "  set flows { type ipv4_addr . icmp_type; flags interval; elements = {"
      awk -v n="$n" 'BEGIN { for (i = 1; i < n; i++) printf "    10.%d.%d.%d . echo-request,\n", int(i/65536)%256, int(i/256)%256, i%256;
                             print "    192.168.77.1 . echo-request }" }'
      echo "  }"
      echo "  chain input { type filter hook input priority filter; policy drop;"
      echo "    ip saddr . icmp type @flows accept" ;;
    rules)
      echo "  chain input { type filter hook input priority filter; policy drop;"
      awk -v n="$n" 'BEGIN { for (i = 1; i < n; i++) printf "    ip saddr 10.%d.%d.%d icmp type echo-request accept\n", int(i/65536)%256, int(i/256)%256, i%256;
                             print "    ip saddr 192.168.77.1 icmp type echo-request accept" }' ;;
  esac
  echo "  }"; echo "}"
}

seconds() { echo "$2 - $1" | bc -l; }

printf "%-8s %-7s %10s %10s %12s\n" flows layout load_s ping_s us/packet
for n in "${sizes[@]}"; do
  for mode in ${LAYOUTS:-map concat rules}; do
    gen $mode "$n" > "$work/r.nft"
    start=$(date +%s.%N)
    ip netns exec $s nft -f "$work/r.nft"
    loaded=$(date +%s.%N)
    ip netns exec $c ping -c 3 -q 192.168.77.2 >/dev/null
    begin=$(date +%s.%N)
    ip netns exec $c ping -f -c "$count" -q 192.168.77.2 >/dev/null
    end=$(date +%s.%N)
    t=$(seconds "$begin" "$end")
    printf "%-8s %-7s %10.3f %10.3f %12.2f\n" "$n" $mode "$(seconds "$start" "$loaded")" "$t" \
      "$(echo "$t * 1000000 / $count" | bc -l)"
  done
done
