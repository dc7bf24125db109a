#!/usr/bin/env bash
# `polder explain`, `diff` and `reach` on the bundled municipality policy and
# one-line changes to it: the verdicts issue 9 found wrong, and the JSON
# shapes docs/cli-json.md documents (parsed with python3's json).
# Usage: explain_diff_reach_test.sh POLDER SRC
set -uo pipefail
polder=$1
src=$2
now=2026-11-24T00:00:00Z
policy=$src/policies/municipality
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/../lib/expect.sh"

reject() {  # reject NAME UNWANTED_TEXT COMMAND...: the output must not hold the text
  local name=$1 unwanted=$2
  shift 2
  local out
  out=$("$@" 2>&1)
  if grep -qF -- "$unwanted" <<<"$out"; then
    failed=$((failed + 1))
    echo "FAIL $name: output holds: $unwanted"
    echo "$out" | head -20
  else
    passed=$((passed + 1))
  fi
}

expect_json() {  # expect_json NAME WANT_EXIT PYTHON_CHECK COMMAND...: `j` is the parsed output
  local name=$1 want_exit=$2 check=$3
  shift 3
  local rc
  "$@" >"$work/out.json" 2>"$work/err.txt"
  rc=$?
  if [ "$rc" -eq "$want_exit" ] &&
    python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($check) else 1)" \
      "$work/out.json"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $rc (want $want_exit), want: $check"
    head -c 2000 "$work/out.json"
    cat "$work/err.txt"
  fi
}

copy() {  # a fresh copy of the municipality policy; prints its path
  local dir="$work/municipality-$RANDOM$RANDOM"
  cp -r "$policy" "$dir"
  echo "$dir"
}

# --- explain -----------------------------------------------------------------------------------
# ICMPv6 runs over IPv6: mgmt and db have no IPv6 address, so the admin ping flow cannot carry
# icmpv6 between them (it used to answer ALLOWED with IPv4 addresses).
expect "icmpv6 needs IPv6" 1 "zone \`mgmt\` has no IPv6 address" \
  "$polder" explain "$policy" --from mgmt --to db --port icmpv6/echo-request --now $now
reject "icmpv6 is never allowed over IPv4" "ALLOWED" \
  "$polder" explain "$policy" --from mgmt --to db --port icmpv6/echo-request --now $now
expect "icmpv6 uses IPv6 addresses" 0 "(dmz) icmpv6/echo-request: ALLOWED" \
  "$polder" explain "$policy" --from internet --to dmz --port icmpv6/echo-request --now $now
expect_json "icmpv6 example is IPv6" 0 \
  "':' in j['verdicts'][0]['example']['source'] and ':' in j['verdicts'][0]['example']['destination']" \
  "$polder" explain "$policy" --from internet --to dmz --port icmpv6/echo-request --now $now --format json
expect "icmp over IPv4 still answered" 0 "icmp/echo-request: ALLOWED" \
  "$polder" explain "$policy" --from mgmt --to db --port icmp/echo-request --now $now

# A zone end is its whole address space: suppliers may ssh to app-1, so suppliers -> app is
# allowed, to app-1's address only.
expect "zone end over its whole space" 0 "to 10.10.2.10 only" \
  "$polder" explain "$policy" --from suppliers --to app --port tcp/22 --now $now
expect "office -> app on https, as reach says" 0 "ALLOWED" \
  "$polder" explain "$policy" --from office --to app --port https --now $now
expect "reach agrees" 0 "app is reachable from office by a path whose last edge carries https" \
  "$polder" reach "$policy" --from office --to app --services https --now $now
# The deny of 203.0.113.0/24 leaves the rest of the internet allowed to the portal.
expect "partial source space" 0 "other address pairs" \
  "$polder" explain "$policy" --from internet --to dmz --port tcp/443 --now $now
expect "a denied source address" 1 "deny wins over allow" \
  "$polder" explain "$policy" --from 203.0.113.7 --to portal-1 --port tcp/443 --now $now
expect "the deny is named" 1 "flow \`block-abusive-range\`" \
  "$polder" explain "$policy" --from 203.0.113.7 --to portal-1 --port tcp/443 --now $now

# A service name for --port; a service of several ports gets one verdict per port.
expect "service name" 0 "service https: one verdict per port" \
  "$polder" explain "$policy" --from office --to dmz --port https --now $now
expect "two ports, both allowed" 0 "2 of 2 port classes allowed" \
  "$polder" explain "$policy" --from internet --to dmz --port ping --now $now
expect "two ports, one without IPv6" 1 "1 of 2 port classes allowed" \
  "$polder" explain "$policy" --from mgmt --to dmz --port ping --now $now
expect "unknown port" 2 "neither a service of the policy nor a port item" \
  "$polder" explain "$policy" --from mgmt --to dmz --port htps --now $now

# Expired flows that would have matched are named, with their expiry and place.
expect "expired flow named" 1 "expired flows/public.yaml:15  flow \`supplier-remote-support\`, expired 2027-06-30T00:00:00Z" \
  "$polder" explain "$policy" --from suppliers --to app-1 --port ssh --now 2027-07-01T00:00:00Z

# Host-essential traffic (spec §7) and the anti-lockout need no flow.
expect "host-essential" 0 "ALLOWED (host-essential)" \
  "$polder" explain "$policy" --from internet --to portal-1 --port icmpv6/nd-neighbor-solicit --now $now
expect "icmp error" 0 "host-essential" \
  "$polder" explain "$policy" --from office --to db-1 --port icmp/destination-unreachable --now $now
expect "anti-lockout" 0 "by settings.yaml:" \
  "$polder" explain "$policy" --from app-1 --to control --port tcp/7443 --now $now
expect "anti-lockout is for managed hosts" 0 "from 10.10.2.10/31 only" \
  "$polder" explain "$policy" --from app --to control --port tcp/7443 --now $now

expect_json "explain json shape" 0 \
  "j['allowed'] is True and j['from']['kind'] == 'zone' and j['to']['name'] == 'app' and \
   j['verdicts'][0]['port'] == 'tcp/22' and j['verdicts'][0]['basis'] == 'flows' and \
   j['verdicts'][0]['partial'] is True and j['verdicts'][0]['allowed_destinations'] == ['10.10.2.10'] and \
   j['verdicts'][0]['allowing'][0]['name'] == 'supplier-remote-support' and \
   j['verdicts'][0]['allowing'][0]['file'] == 'flows/public.yaml' and len(j['verdicts'][0]['cases']) >= 2" \
  "$polder" explain "$policy" --from suppliers --to app --port tcp/22 --now $now --format json
expect_json "explain json per port" 1 \
  "j['allowed'] is False and j['service'] == 'ping' and [v['allowed'] for v in j['verdicts']] == [True, False] \
   and j['verdicts'][1]['basis'] == 'no-address'" \
  "$polder" explain "$policy" --from mgmt --to dmz --port ping --now $now --format json
expect_json "explain json expired" 1 \
  "j['verdicts'][0]['expired'][0]['name'] == 'supplier-remote-support' and \
   j['verdicts'][0]['expired'][0]['expires'] == '2027-06-30T00:00:00Z'" \
  "$polder" explain "$policy" --from suppliers --to app-1 --port ssh --now 2027-07-01T00:00:00Z --format json

# --- reach -------------------------------------------------------------------------------------
expect_json "reach json" 0 \
  "j['reachable'] is True and j['path'][0] == 'office' and j['path'][-1] == 'db' and \
   j['edges'][-1]['to'] == 'db' and j['edges'][-1]['flows']" \
  "$polder" reach "$policy" --from office --to db --now $now --format json
expect_json "reach json unreachable" 1 \
  "j['reachable'] is False and j['path'] == [] and j['services'] == ['ssh']" \
  "$polder" reach "$policy" --from office --to db --services ssh --now $now --format json

# --- diff --------------------------------------------------------------------------------------
# Widening the supplier's host-level flow to its zone changes no zone edge; diff must show it.
d=$(copy)
sed -i 's/    to: app-1$/    to: app/' "$d/flows/public.yaml"
expect "host-level widening" 1 "+ suppliers -> app: tcp/22 becomes allowed (flows/public.yaml:15)" \
  "$polder" diff "$policy" "$d" --now $now
reject "host-level widening is a change" "no change" "$polder" diff "$policy" "$d" --now $now
expect_json "diff json" 1 \
  "j['changed'] is True and j['access'][0]['change'] == 'allowed' and \
   j['access'][0]['from']['name'] == 'suppliers' and j['access'][0]['to'] == {'name': 'app', 'kind': 'zone', \
   'addresses': j['access'][0]['to']['addresses'], 'whole': True} and j['access'][0]['services'] == ['tcp/22'] \
   and j['edges'] == [] and j['reachability'] == [] and j['metadata'] == []" \
  "$polder" diff "$policy" "$d" --now $now --format json
# And back: the zone's other addresses become denied, citing the flow that allowed them.
expect "narrowing" 1 "- suppliers -> app: tcp/22 becomes denied; was allowed by flows/public.yaml:15" \
  "$polder" diff "$d" "$policy" --now $now

# A 3-year expiry extension with a new owner: metadata changes, exit 1.
d=$(copy)
sed -i 's/expires: 2027-06-30T00:00:00Z/expires: 2030-06-30T00:00:00Z/; s/owner: leverancier-zaaksysteem/owner: someone-else/' "$d/flows/public.yaml"
expect "expiry extension" 1 "owner: leverancier-zaaksysteem => someone-else" \
  "$polder" diff "$policy" "$d" --now $now
expect_json "diff json metadata" 1 \
  "[m['field'] for m in j['metadata']] == ['expires', 'owner'] and j['metadata'][0]['after'] == '2030-06-30T00:00:00Z' \
   and j['access'] == []" \
  "$polder" diff "$policy" "$d" --now $now --format json
# Once the old expiry has passed, the extension keeps the access that would have ended.
expect "expiry extension keeps access" 1 "+ suppliers -> app-1: tcp/22 becomes allowed" \
  "$polder" diff "$policy" "$d" --now 2028-01-01T00:00:00Z

# A deny narrowed to part of a zone names the part.
d=$(copy)
sed -i 's|sources: \[203.0.113.0/24\]|sources: [203.0.113.0/24, 198.18.0.0/15]|' "$d/flows/public.yaml"
expect "sources widened" 1 "- internet (198.18.0.0/15 only) -> dmz" \
  "$polder" diff "$policy" "$d" --now $now

expect "diff of a policy with itself" 0 "no change" "$polder" diff "$policy" "$policy" --now $now
expect_json "diff json no change" 0 "j['changed'] is False and j['access'] == []" \
  "$polder" diff "$policy" "$policy" --now $now --format json

expect_summary
