#!/bin/bash
# From audit to enforce without surprises (issue 11), on the bundled shared-service policy in a
# lab of namespaces, as the README shows it:
#   1. the policy in `mode: audit`, `polder lab up` (agents spool observed traffic);
#   2. a traffic mix from the lab's namespaces: allowed connections of existing flows, would-deny
#      ones (app to app, a partner to an app it has no flow to), a weekly-job-like burst (mgmt
#      to the backup host's agent port), and two a suggestion must refuse (the internet straight
#      to the database breaks invariant db-only-through-apps, a new partner port the partner
#      exposure budget);
#   3. `polder traffic --local` counts exactly those connections; `polder suggest` writes flows;
#      `polder check` of the policy plus them passes; the refused one is a comment naming the
#      invariant;
#   4. the suggestion merged and the policy switched to enforce, the lab up again: the same mix
#      gets through except the refused connections (0 observed connections denied), and `polder
#      lab probe` agrees with the compiler on every path (nothing allowed beyond the policy plus
#      the suggestion).
# usage: audit_workflow_e2e.sh POLDER SOURCE_DIR
set -euo pipefail
polder=$1 src=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
work=$(mktemp -d)
prefix="aw-$$-"
name="aw$$"
net_tool="$src/tests/agent/net_tool.py"
listeners=()
stop_listeners() {
  for p in "${listeners[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${listeners[@]}"; do wait "$p" 2>/dev/null || true; done
  listeners=()
}
cleanup() {
  stop_listeners
  "$polder" lab down --name "$name" --ns-prefix "$prefix" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

policy=$work/policy
cp -r "$src/policies/shared-service" "$policy"
# Partner flows expire during 2027: evaluate at a fixed time so the test does not age.
now=2026-12-01T00:00:00Z
printf '  mode: audit\n' >>"$policy/settings.yaml"
"$polder" check "$policy" --now "$now" >/dev/null || fail "the audit-mode copy does not check"

lab_up() {
  "$polder" lab up "$policy" --name "$name" --ns-prefix "$prefix" --now "$now" \
    --traffic-interval 1s >"$work/up.out" || { cat "$work/up.out"; fail "lab up"; }
}
# netns_of NAME / addr_of NAME: the lab's namespace and first address of a host or zone stand-in.
netns_of() { awk -v n="$1" '$3 == n { print $1; exit }' "$work/up.out"; }
addr_of() { awk -v n="$1" '$3 == n { print $4; exit }' "$work/up.out"; }

# The mix: SOURCE DESTINATION PORT COUNT KIND (allowed | would-deny | refused).
cat >"$work/mix" <<'MIX'
permits-1 db-1 5432 5 allowed
jump-1 db-1 22 3 allowed
backup-1 db-1 9102 4 allowed
partners permits-1 443 6 allowed
geo-1 water-1 443 3 would-deny
partners youth-1 8443 2 refused
jump-1 backup-1 9102 20 would-deny
internet db-1 5432 2 refused
MIX

start_listeners() {  # a TCP listener on every destination port of the mix
  local dst ports
  for dst in $(awk '{print $2}' "$work/mix" | sort -u); do
    ports=$(awk -v d="$dst" '$2 == d {print $3}' "$work/mix" | sort -u | paste -sd,)
    ip netns exec "$(netns_of "$dst")" python3 "$net_tool" listen "$ports" >"$work/listen-$dst" 2>&1 &
    listeners+=($!)
  done
  for dst in $(awk '{print $2}' "$work/mix" | sort -u); do
    for _ in $(seq 100); do grep -q listening "$work/listen-$dst" && break; sleep 0.05; done
    grep -q listening "$work/listen-$dst" || fail "no listener in $dst: $(cat "$work/listen-$dst")"
  done
}

# run_mix RESULT: every connection of the mix, one line per (line of the mix): connected count.
run_mix() {
  : >"$1"
  local s d p n k ok i
  while read -r s d p n k; do
    ok=0
    for i in $(seq 1 "$n"); do
      ip netns exec "$(netns_of "$s")" python3 "$net_tool" probe "$(addr_of "$d")" "$p" && ok=$((ok + 1))
    done
    echo "$s $d $p $n $k $ok" >>"$1"
  done <"$work/mix"
}

# 1-2. Audit mode: everything gets through, and is observed.
lab_up
for e in $(awk '{print $1; print $2}' "$work/mix" | sort -u); do
  [ -n "$(netns_of "$e")" ] || fail "lab has no namespace for $e: $(cat "$work/up.out")"
done
grep -q "observed traffic: polder traffic --local" "$work/up.out" || fail "lab up does not say where traffic goes"
spools=$(sed -n 's/.*polder traffic --local \([^ ]*\) .*/\1/p' "$work/up.out")
start_listeners
run_mix "$work/audit.result"
stop_listeners
cat "$work/audit.result"
awk '$6 != $4 { exit 1 }' "$work/audit.result" || fail "audit mode blocked a connection: $(cat "$work/audit.result")"

# 3. The spools count exactly the mix (bounded wait for the agents' next reports).
count_ok() {
  "$polder" traffic --local "$spools" --policy "$policy" --format json >"$work/traffic.json" 2>/dev/null || return 1
  python3 - "$work/traffic.json" "$work/mix" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
rows = t["rows"]
for line in open(sys.argv[2]):
    s, d, p, n, kind = line.split()
    want_verdict = "allowed" if kind == "allowed" else "would-deny"
    # Counted once, where it arrives (the destination's inbound row); an unmanaged source has
    # no outbound row of its own.
    got = sum(r["connections"] for r in rows
              if r["direction"] == "in" and r["host"] == d and r["port"] == int(p)
              and (r["peer"] == s or r["peer_zone"] == s) and r["verdict"] == want_verdict)
    if got != int(n):
        print(f"{s} -> {d} tcp/{p}: {got} {want_verdict}, want {n}", file=sys.stderr)
        sys.exit(1)
PY
}
for _ in $(seq 100); do count_ok 2>"$work/count.err" && break; sleep 0.2; done
count_ok || fail "polder traffic does not show the mix exactly: $(cat "$work/count.err")"
echo "ok: polder traffic shows exactly the mix"

"$polder" suggest --local "$spools" --policy "$policy" -o "$work/suggested.yaml" \
  >"$work/suggest.out" 2>&1 || fail "suggest: $(cat "$work/suggest.out")"
cat "$work/suggested.yaml"
grep -q "not suggested: it would break invariant db-only-through-apps" "$work/suggested.yaml" ||
  fail "internet -> db-1 is not refused by the invariant's name"
grep -q "not suggested: it would break invariant partner-exposure-budget" "$work/suggested.yaml" ||
  fail "partners -> youth-1 tcp/8443 is not refused by the invariant's name"
# Each connection counted once, though both managed hosts reported it.
grep -q "# jump-1 -> backup-1 tcp/9102: 20 connections" "$work/suggested.yaml" ||
  fail "the burst is not counted once"
cp "$work/suggested.yaml" "$policy/zz-suggested.yaml"
"$polder" check "$policy" --now "$now" >"$work/check.out" 2>&1 || fail "check of policy + suggestion: $(cat "$work/check.out")"
echo "ok: suggestion written, refused the invariant-breaking connection, and checks"

# 4. Enforce with the suggestion merged.
"$polder" lab down --name "$name" --ns-prefix "$prefix" >/dev/null
sed -i 's/^  mode: audit$/  mode: enforce/' "$policy/settings.yaml"
grep -q "mode: enforce" "$policy/settings.yaml" || fail "could not switch to enforce"
lab_up
start_listeners
run_mix "$work/enforce.result"
stop_listeners
cat "$work/enforce.result"
awk '$5 != "refused" && $6 != $4 { exit 1 }' "$work/enforce.result" ||
  fail "enforce denied observed connections: $(cat "$work/enforce.result")"
awk '$5 == "refused" && $6 != 0 { exit 1 }' "$work/enforce.result" ||
  fail "a refused connection got through: $(cat "$work/enforce.result")"
"$polder" lab probe "$policy" --name "$name" --ns-prefix "$prefix" --now "$now" --timeout-ms 300 \
  --complete >"$work/probe.out" 2>&1 || { tail -30 "$work/probe.out"; fail "lab probe disagrees with the compiler"; }
tail -3 "$work/probe.out"
echo "PASS: audit -> suggest -> enforce: 0 observed connections denied, nothing beyond policy + suggestion"
