#!/usr/bin/env bash
# The bootstrap ruleset of `polder pki issue DIR --host NAME --controller ADDR:PORT`, in
# namespaces: it passes `nft -c -f` in a fresh namespace; loaded by `polder-agent --boot
# --bootstrap FILE` (nothing stored yet, as on a new host) it lets the host reach the
# controller's port and nothing else: another port on the controller, another host, and any
# inbound connection are refused, loopback keeps working. `--host-dhcp` adds the DHCP client.
# Usage: bootstrap_e2e.sh PATH_TO_POLDER_AGENT PATH_TO_POLDER   (root)
AGENT=$1
POLDER=$2
source "$(dirname "$0")/lib.sh"

# A host (10.1.0.11) and the controller (10.1.0.12) on one link; the controller listens on its
# port 7443 and on 6000, the host on 22 and on loopback 8080.
client_server_pair
"$POLDER" pki init "$WORK/pki" >/dev/null || fail "pki init"
"$POLDER" pki issue "$WORK/pki" --host db-1 --controller 10.1.0.12:7443 >"$WORK/issue.out" \
  || fail "pki issue --controller: $(cat "$WORK/issue.out")"
BOOT=$WORK/pki/agents/db-1/bootstrap.nft
[ -f "$BOOT" ] || fail "no bootstrap.nft beside the certificate: $(ls "$WORK/pki/agents/db-1")"
[ -f "$WORK/pki/agents/db-1/agent.crt" ] || fail "no certificate beside bootstrap.nft"
grep -q "bootstrap ruleset written to $BOOT" "$WORK/issue.out" || fail "issue does not name the file"
head -1 "$BOOT" | grep -q '^# polder ruleset host=db-1 ' || fail "header: $(head -1 "$BOOT")"
grep -q '10.1.0.12 . 7443' "$BOOT" || fail "the controller is not in the ruleset: $(cat "$BOOT")"

# nft -c in a fresh namespace (no table yet).
new_ns FRESH
in_ns "$FRESH" nft -c -f "$BOOT" || fail "nft -c -f rejects the bootstrap ruleset"
pass "bootstrap.nft passes nft -c -f in a fresh namespace"

ip netns exec "$SERVER" "$HERE/net_tool.py" listen 7443,6000 >"$WORK/server.out" &
PIDS+=($!)
ip netns exec "$CLIENT" "$HERE/net_tool.py" listen 22,8080 >"$WORK/client.out" &
PIDS+=($!)
for _ in $(seq 1 100); do
  grep -q listening "$WORK/server.out" && grep -q listening "$WORK/client.out" && break
  sleep 0.05
done
# Open before: the probes themselves work.
in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 6000 || fail "no connectivity before boot"
in_ns "$SERVER" "$HERE/net_tool.py" probe 10.1.0.11 22 || fail "no inbound connectivity before boot"

ip netns exec "$CLIENT" setpriv --bounding-set=-all,+net_admin -- "$AGENT" --boot \
  --state-dir "$WORK/empty-state" --bootstrap "$BOOT" --host db-1 >"$WORK/boot.out" 2>&1 \
  || fail "boot with the bootstrap ruleset failed: $(cat "$WORK/boot.out")"
grep -q "loaded the bootstrap ruleset" "$WORK/boot.out" || fail "not loaded: $(cat "$WORK/boot.out")"

in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 7443 || fail "the controller's port is blocked"
if in_ns "$CLIENT" "$HERE/net_tool.py" probe 10.1.0.12 6000; then
  fail "another port of the controller's address got through"
fi
if in_ns "$SERVER" "$HERE/net_tool.py" probe 10.1.0.11 22; then
  fail "an inbound connection got through"
fi
in_ns "$CLIENT" "$HERE/net_tool.py" probe 127.0.0.1 8080 || fail "loopback is blocked"
pass "bootstrap ruleset: only the controller's port (and loopback) is reachable"

# Bad input is refused before anything is written; --host-dhcp lets the DHCP client out.
if "$POLDER" pki issue "$WORK/pki" --host web-1 --controller ctl.example:7443 2>"$WORK/bad.err"; then
  fail "a controller name was taken for an address"
fi
grep -q "not an IP address" "$WORK/bad.err" || fail "unclear error: $(cat "$WORK/bad.err")"
[ ! -e "$WORK/pki/agents/web-1" ] || fail "a refused issue left files behind"
"$POLDER" pki issue "$WORK/pki" --host web-1 --controller '[2001:db8::2]:7443' --host-dhcp \
  >/dev/null || fail "IPv6 controller with --host-dhcp"
grep -q '2001:db8::2 . 7443' "$WORK/pki/agents/web-1/bootstrap.nft" || fail "IPv6 controller missing"
grep -q 'udp dport 67' "$WORK/pki/agents/web-1/bootstrap.nft" \
  || fail "--host-dhcp: no DHCP client rule: $(cat "$WORK/pki/agents/web-1/bootstrap.nft")"
new_ns FRESH6
in_ns "$FRESH6" nft -c -f "$WORK/pki/agents/web-1/bootstrap.nft" || fail "nft -c rejects the IPv6/DHCP one"
pass "bad --controller refused; IPv6 controller and --host-dhcp rendered and valid"
