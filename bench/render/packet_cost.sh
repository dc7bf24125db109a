#!/bin/bash
# Packet cost: the same N flows as one concatenated-set lookup (what polder
# renders) vs as one rule per flow, at N = 10, 1000, 100000.
# Each flow allows one source /32 on one port; the probe traffic (ICMP echo
# from the client, matching the LAST flow) is evaluated on every packet (no
# conntrack shortcut), so the chain cost is paid per packet. Measures the
# time of `ping -f -c COUNT` between two namespaces this script creates
# (pt-<pid>-*) and removes; never touches the root namespace ruleset.
# usage: packet_cost.sh [COUNT]   (root)
set -euo pipefail
count=${1:-20000}
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
  if [ "$mode" = sets ]; then
    echo "  set flows { type ipv4_addr . icmp_type; flags interval; elements = {"
    awk -v n="$n" 'BEGIN { for (i = 1; i < n; i++) printf "    10.%d.%d.%d . echo-request,\n", int(i/65536)%256, int(i/256)%256, i%256;
                           print "    192.168.77.1 . echo-request }" }'
    echo "  }"
    echo "  chain input { type filter hook input priority filter; policy drop;"
    echo "    ip saddr . icmp type @flows accept"
  else
    echo "  chain input { type filter hook input priority filter; policy drop;"
    awk -v n="$n" 'BEGIN { for (i = 1; i < n; i++) printf "    ip saddr 10.%d.%d.%d icmp type echo-request accept\n", int(i/65536)%256, int(i/256)%256, i%256;
                           print "    ip saddr 192.168.77.1 icmp type echo-request accept" }'
  fi
  echo "  }"; echo "}"
}

printf "%-8s %-6s %12s %12s\n" flows mode seconds us/packet
for n in 10 1000 100000; do
  for mode in sets rules; do
    gen $mode $n > "$work/r.nft"
    ip netns exec $s nft -f "$work/r.nft"
    ip netns exec $c ping -c 3 -q 192.168.77.2 >/dev/null
    start=$(date +%s.%N)
    ip netns exec $c ping -f -c "$count" -q 192.168.77.2 >/dev/null
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    printf "%-8s %-6s %12.3f %12.2f\n" $n $mode $t "$(echo "$t * 1000000 / $count" | bc -l)"
  done
done
