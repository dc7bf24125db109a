#!/usr/bin/env bash
# `polder check` on the bundled policies, and one-line changes to each that
# must produce the expected error code. Usage: check_cli_test.sh POLDER SRC
set -uo pipefail
polder=$1
src=$2
now=2026-11-24T00:00:00Z
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/../lib/expect.sh"

copy() {  # copy POLICY -> prints a fresh copy's path
  local dir="$work/$1-$RANDOM$RANDOM"
  cp -r "$src/policies/$1" "$dir"
  echo "$dir"
}

for p in municipality shared-service; do
  # Exit 0: no errors. The bundled policies keep one true warning on purpose:
  # unclaimed private space counts as internet (lint private-in-external).
  expect "$p clean" 0 "private-in-external" "$polder" check "$src/policies/$p" --now $now
  expect "$p json" 0 '"revision"' "$polder" check "$src/policies/$p" --now $now --format json
done

# Office gets SSH to the bastion: backups become reachable through mgmt.
d=$(copy municipality)
sed -i 's/  - name: staff-to-portal/  - {from: office, to: mgmt, services: ssh}\n  - name: staff-to-portal/' "$d/flows/internal.yaml"
d0=$d
expect "office->mgmt opens backups" 1 "path: office -> mgmt -> backup" "$polder" check "$d" --now $now
expect "violation json path" 1 '"office",' "$polder" check "$d" --now $now --format json

# A typo in a zone reference.
d=$(copy municipality)
sed -i 's/    to: db$/    to: dbb/' "$d/flows/internal.yaml"
expect "typo unknown-ref" 1 "unknown zone or host \`dbb\` in \`to\` (did you mean \`db\`?) [unknown-ref]" "$polder" check "$d" --now $now
# For reach, explain, graph and diff, exit 1 is an answer (not reachable, denied, changed):
# a policy with errors cannot be answered for, which is 2.
expect "reach on a broken policy" 2 "[unknown-ref]" "$polder" reach "$d" --from office --to db --now $now
expect "explain on a broken policy" 2 "[unknown-ref]" "$polder" explain "$d" --from office --to db --port tcp/5432 --now $now
expect "graph on a broken policy" 2 "[unknown-ref]" "$polder" graph "$d" --now $now
expect "diff against a broken policy" 2 "[unknown-ref]" "$polder" diff "$src/policies/municipality" "$d" --now $now

# Time passes: the supplier flow expires (a warning, not an error).
expect "expiry warning" 0 "[expired-flow]" "$polder" check "$src/policies/municipality" --now 2027-07-01T00:00:00Z
expect "expiring soon" 0 "[expiring-soon]" "$polder" check "$src/policies/municipality" --now 2027-06-25T00:00:00Z

# Shared service: one more public application breaks the exposure budget.
d=$(copy shared-service)
sed -i 's/    to: app-elections$/    to: [app-elections, app-geo]/' "$d/flows-partners.yaml"
expect "exposure budget" 1 "public-exposure-budget" "$polder" check "$d" --now $now
# A partner prefix with host bits set.
d=$(copy shared-service)
sed -i 's|198.18.7.0/24|198.18.7.1/24|' "$d/zones.yaml"
expect "host bits" 1 "zones.yaml:20:9: error: \`198.18.7.1/24\` has host bits set; write \`198.18.7.0/24\` [invalid-cidr]" "$polder" check "$d" --now $now

# Issue 9: errors point at the cause. A db prefix with host bits breaks db-1; the prefix error
# comes first, and the references to db-1 are one diagnostic naming it, with no did-you-mean.
first_error() {  # first_error DIR: the first error line of `polder check DIR`, its exit status
  local out rc
  out=$("$polder" check "$1" --now $now 2>&1)
  rc=$?
  grep -m1 ': error: ' <<<"$out"
  return $rc
}
d=$(copy municipality)
sed -i 's|cidrs: \[10.10.3.0/24\]|cidrs: [10.10.3.1/24]|' "$d/zones.yaml"
printf 'flows:\n  - {from: app, to: db-1, services: postgres}\n  - {from: mgmt, to: db-1, services: ssh}\n' >"$d/flows/db-1.yaml"
expect "root cause first" 1 "zones.yaml:23:13: error: \`10.10.3.1/24\` has host bits set" first_error "$d"
expect "host names its cause" 1 "host \`db-1\` cannot be placed: its address 10.10.3.10 lies in \`10.10.3.1/24\` at zones.yaml:23:13" \
  "$polder" check "$d" --now $now
expect "references counted once" 1 "\`db-1\` is undefined because of the error at zones.yaml:23:13 (the host could not be defined); fix that error first. Its 2 references are not checked: flows/db-1.yaml:2:21, flows/db-1.yaml:3:22" \
  "$polder" check "$d" --now $now
out=$("$polder" check "$d" --now $now 2>&1)
if grep -q "did you mean" <<<"$out" || [ "$(grep -c 'db-1' <<<"$out" | tr -d ' ')" = 0 ]; then
  failed=$((failed + 1)); echo "FAIL no did-you-mean for a broken name:"; echo "$out" | head -20
else
  passed=$((passed + 1))
fi

# An under-indented key: yaml-cpp's message, with a hint naming the lines involved.
d=$(copy municipality)
sed -i 's/^    cidrs: \[10.10.3.0\/24\]/   cidrs: [10.10.3.0\/24]/' "$d/zones.yaml"
expect "indentation hint" 1 "zones.yaml:23:4: error: invalid YAML: end of sequence not found; hint: line 23 looks under-indented: \`cidrs:\` is indented 3 spaces, less than \`name:\` on line 22 (4 spaces) but more than the enclosing key \`zones:\` on line 4 (0 spaces)" \
  "$polder" check "$d" --now $now
d=$(copy municipality)
sed -i 's/^    description: databases/      description: databases/' "$d/zones.yaml"
expect "over-indentation hint" 1 "zones.yaml:24:7: error: invalid YAML: end of map not found; hint: line 24 looks over-indented: \`description:\` is indented 6 spaces, more than \`cidrs:\` on line 23 (4 spaces)" \
  "$polder" check "$d" --now $now

# `version: "1"` is a string; `version: 2` does not exist.
d=$(copy municipality)
sed -i '1i version: "1"' "$d/zones.yaml"
expect "quoted version" 1 "zones.yaml:1:10: error: \`version\` is the number 1, but \`1\` is quoted, which makes it a string; write \`version: 1\`" \
  "$polder" check "$d" --now $now
sed -i '1s/.*/version: 2/' "$d/zones.yaml"
expect "version 2" 1 "only version 1 of the policy language exists" "$polder" check "$d" --now $now

# Spec §6a: a posture's references are checked like a flow's.
d=$(copy municipality)
printf 'postures:\n  - name: lockdown\n    isolate: [dmz, app-9]\n    keep: [backups-isolated]\n' >"$d/postures.yaml"
expect "posture unknown isolate" 1 "postures.yaml:3:20: error: unknown zone or host \`app-9\` in \`isolate\` (did you mean \`app-1\`?) [unknown-ref]" \
  "$polder" check "$d" --now $now
expect "posture keeps a non-reach invariant" 1 "[not-a-reach-invariant]" "$polder" check "$d" --now $now

# CI formats carry the violation at the invariant's line.
expect "sarif" 1 '"ruleId": "invariant-violated"' "$polder" check "$d0" --now $now --format sarif
expect "sarif version" 1 '"version": "2.1.0"' "$polder" check "$d0" --now $now --format sarif
expect "junit" 1 'name="backups-isolated" file="invariants.yaml" line="2"' "$polder" check "$d0" --now $now --format junit

# Cannot run: exit 2.
expect "missing dir" 2 "not a readable directory" "$polder" check "$work/nope"
expect "bad --now" 2 "not an RFC 3339 time" "$polder" check "$src/policies/municipality" --now yesterday
expect "usage" 2 "" "$polder" check
mkdir -p "$work/empty"
expect "empty dir" 1 "holds no *.yaml or *.yml files" "$polder" check "$work/empty"

# Billion laughs through the CLI returns at once.
mkdir -p "$work/laughs"
python3 - "$work/laughs/x.yaml" <<'PY'
import sys
doc = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
names = "abcdefghi"
for i in range(1, 9):
    doc += f"{names[i]}: &{names[i]} [" + ",".join(["*" + names[i-1]] * 9) + "]\n"
open(sys.argv[1], "w").write(doc)
PY
expect "reach names the zone a host stands for" 0 "host \`app-2\` stands for its zone \`app\`" \
  "$polder" reach "$src/policies/municipality" --from suppliers --to app-2 --now $now

expect "explain across families" 2 "share no address family" \
  "$polder" explain "$src/policies/municipality" --from 2001:db8:10:1::10 --to 10.10.2.10 --port tcp/8443 --now $now
expect "explain a host to itself" 0 "loopback" \
  "$polder" explain "$src/policies/municipality" --from db-1 --to db-1 --port tcp/5432 --now $now
# Inside a zone, flows decide (none allows db -> db), not loopback.
expect "explain inside a zone" 1 "no active flow allows db -> db" \
  "$polder" explain "$src/policies/municipality" --from db --to db --port tcp/5432 --now $now
# A dual-stack host to an IPv6-only address: the IPv6 ends are used.
expect "explain picks the shared family" 0 "using 2001:db8:10:1::10 for host portal-1" \
  "$polder" explain "$src/policies/municipality" --from portal-1 --to 2001:db8:10:2::10 --port tcp/8443 --now $now

# Spec §9: an expiry extension changes no reachability today, but diff reports it (exit 1).
d=$(copy municipality)
sed -i 's/expires: 2027-06-30T00:00:00Z/expires: 2030-06-30T00:00:00Z/' "$d/flows/public.yaml"
expect "diff reports an expiry change" 1 "expires: 2027-06-30T00:00:00Z => 2030-06-30T00:00:00Z" \
  "$polder" diff "$src/policies/municipality" "$d" --now $now
expect "diff of a policy with itself" 0 "no change" \
  "$polder" diff "$src/policies/municipality" "$src/policies/municipality" --now $now

expect "billion laughs" 1 "[limit-exceeded]" timeout 5 "$polder" check "$work/laughs"

# Spec §1: dot-directories and dot-files (a CI folder, an editor's lock file) are not policy.
d=$(copy municipality)
mkdir -p "$d/.github/workflows" "$d/.git"
printf 'on: [push]\njobs: {}\n' >"$d/.github/workflows/ci.yaml"
printf 'zones: [unterminated\n' >"$d/.#zones.yaml"
printf 'not: policy\n' >"$d/.git/config.yml"
expect "dot files skipped" 0 "private-in-external" "$polder" check "$d" --now $now

# A certificate is not replaced by accident (the key would be lost and its agent locked out).
"$polder" pki init "$work/pki" >/dev/null
expect "pki issue" 0 "written to" "$polder" pki issue "$work/pki" --host web-1
expect "pki issue again" 2 "give --force" "$polder" pki issue "$work/pki" --host web-1
expect "pki issue --force" 0 "written to" "$polder" pki issue "$work/pki" --host web-1 --force

expect_summary
