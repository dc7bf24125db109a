#!/usr/bin/env bash
# `polder traffic`, `unused` and `suggest` over an agent's traffic spool, on the
# bundled shared-service policy: rows attributed to their flow (file:line) or
# would-deny, partner peers per declared prefix, loss and duplicates said,
# `unused` never calling an entry unused on incomplete evidence, and a
# suggestion that `polder check` accepts with the policy and that allows what
# was seen (and a flow that would break an invariant left as a comment).
# Usage: traffic_test.sh POLDER SRC
set -uo pipefail
polder=$1
src=$2
policy=$src/policies/shared-service
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/../lib/expect.sh"

# The spool: three days of reports from permits-1 and db-1, one batch twice,
# 2 tuples lost, and a last line cut by a crash. db-1's first report also carries hits: 6
# packets on the allow element of backup-pull (named through the provenance map `polder
# compile` writes), a flow no sample shows, and 2 on a counter the policy does not have.
"$polder" compile "$policy" --host db-1 -o "$work/db-1.nft" || { echo "FAIL compile db-1"; exit 1; }
python3 - "$work/spool" "$work/db-1.nft.provenance.json" <<'PY'
import json, sys, datetime
prov = json.load(open(sys.argv[2]))
names = [f["name"] for f in prov["flows"]]
backup = [c["counter"] for c in prov["counters"]
          if c["kind"] == "service" and [names[i] for i in c["flows"]] == ["backup-pull"]]
assert len(backup) == 1, backup
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
def t(hours): return (now - datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
def s(direction, local, peer, proto, port, verdict, n):
    return {"direction": direction, "local": local, "peer": peer, "protocol": proto,
            "port": port, "verdict": verdict, "connections": n, "bytes": n * 1000}
lines = []
seq = 0
for day in range(3):
    seq += 1
    lines.append({"host": "permits-1", "epoch": 1, "sequence": seq, "start": t(24 * day + 2),
                  "end": t(24 * day + 1), "lost": 2 if day == 0 else 0, "samples": [
        s("in", "10.61.0.10", "198.18.1.7", "tcp", 443, "allowed", 4),
        s("in", "10.61.0.10", "198.18.1.9", "tcp", 443, "allowed", 1),
        s("in", "10.61.0.10", "198.18.1.7", "tcp", 8443, "would-deny", 5),
        s("out", "10.61.0.10", "10.60.3.10", "tcp", 5432, "allowed", 3)]})
    lines.append({"host": "db-1", "epoch": 7, "sequence": seq, "start": t(24 * day + 2),
                  "end": t(24 * day + 1), "lost": 0, "samples": [
        s("in", "10.60.3.10", "10.61.0.10", "tcp", 5432, "allowed", 3),
        s("in", "10.60.3.10", "203.0.113.5", "tcp", 5432, "would-deny", 2),
        s("in", "10.60.3.10", "10.61.0.10", "tcp", 6432, "would-deny", 1)]})
    if day == 0:
        lines[-1]["hits"] = [{"counter": backup[0], "packets": 6, "bytes": 360},
                             {"counter": "in_p99_l4/0600000000010000", "packets": 2, "bytes": 80}]
with open(sys.argv[1], "w") as f:
    for l in lines: f.write(json.dumps(l) + "\n")
    f.write(json.dumps(lines[0]) + "\n")        # sent twice
    f.write(json.dumps(lines[1])[:40])           # cut by a crash
PY

expect "traffic names the flow and the partner prefix" 0 "partners-to-permits (flows-partners.yaml:4)" \
  "$polder" traffic --local "$work/spool" --policy "$policy"
expect "traffic: one row per declared partner prefix" 0 "partners 198.18.1.0/24" \
  "$polder" traffic --local "$work/spool" --policy "$policy"
expect "traffic says what was lost" 0 "could not record 2 tuples" \
  "$polder" traffic --local "$work/spool" --policy "$policy"
expect "traffic says the cut line" 0 "last line was cut" \
  "$polder" traffic --local "$work/spool" --policy "$policy"
expect "traffic counts a batch sent twice once" 0 "1 batches were in the spool twice" \
  "$polder" traffic --local "$work/spool" --policy "$policy"
reject() {  # reject NAME UNWANTED COMMAND...
  local name=$1 unwanted=$2
  shift 2
  if "$@" 2>&1 | grep -qF -- "$unwanted"; then
    failed=$((failed + 1)); echo "FAIL $name: output holds $unwanted"
  else passed=$((passed + 1)); fi
}
reject "traffic --denied leaves allowed rows out" "allowed " \
  "$polder" traffic --local "$work/spool" --policy "$policy" --denied
expect "traffic --host db-1" 0 "would-deny" \
  "$polder" traffic --local "$work/spool" --policy "$policy" --host db-1

out=$("$polder" traffic --local "$work/spool" --policy "$policy" --format json)
if python3 - "$out" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
rows = {(r["host"], r["peer"], r["service"], r["verdict"]): r for r in j["rows"]}
https = rows[("permits-1", "partners 198.18.1.0/24", "tcp/443", "allowed")]
assert https["connections"] == 15, https            # 5 a day for 3 days, the duplicate once
assert https["flows"] == ["partners-to-permits (flows-partners.yaml:4)"], https
assert rows[("permits-1", "partners 198.18.1.0/24", "tcp/8443", "would-deny")]["connections"] == 15
assert rows[("db-1", "permits-1", "tcp/5432", "allowed")]["flows"][0].startswith("apps-to-db")
assert j["lost_tuples"] == 2 and j["duplicate_batches"] == 1 and j["partial_lines"] == 1, j
assert j["reports"] == 6, j["reports"]
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL traffic json"; fi

expect "traffic --format dot: partners to app-permits, weighted" 0 '"partners" -> "app-permits" [label="15\ntcp/443", penwidth=2.2' \
  "$polder" traffic --local "$work/spool" --policy "$policy" --format dot
expect "traffic --format dot: denied edges drawn apart" 0 '"partners" -> "app-permits" [label="15 denied\ntcp/8443"' \
  "$polder" traffic --local "$work/spool" --policy "$policy" --format dot
expect "traffic --format dot: host to host drawn once" 0 '"app-permits" -> "shared-db" [label="9\ntcp/5432"' \
  "$polder" traffic --local "$work/spool" --policy "$policy" --format dot
expect "traffic --format html: one page with the rows" 0 "<td>partners 198.18.1.0/24</td>" \
  "$polder" traffic --local "$work/spool" --policy "$policy" --format html

expect "unused: a flow with hits is used" 0 "used     partners-to-permits" \
  "$polder" unused --local "$work/spool" --policy "$policy" --since 3d
expect "unused: hosts that never reported make it unknown, not unused" 0 "unknown  partners-to-youth" \
  "$polder" unused --local "$work/spool" --policy "$policy" --since 3d
reject "unused: nothing is unused on this evidence" "unused   " \
  "$polder" unused --local "$work/spool" --policy "$policy" --since 3d
expect "unused: a flow the kernel counted is used, with its count" 0 \
  "used     backup-pull                          flows-internal.yaml:10          0          6" \
  "$polder" unused --local "$work/spool" --policy "$policy" --since 3d
expect "unused: hits on counters the policy lacks are said" 0 \
  "warning: 2 counted packets were on counters this policy's rulesets do not have" \
  "$polder" unused --local "$work/spool" --policy "$policy" --since 3d
expect "unused: a prefix cites the line declaring it" 0 \
  "partners 198.18.1.0/24               zones.yaml:14" \
  "$polder" unused --local "$work/spool" --policy "$policy" --since 3d
out=$("$polder" unused --local "$work/spool" --policy "$policy" --since 3d --format json)
if python3 - "$out" <<'PY'
import json, sys
j = json.loads(sys.argv[1])
e = {x["name"]: x for x in j["entries"] if x["kind"] == "flow"}
assert e["backup-pull"]["counter_hits"] == 6 and e["backup-pull"]["status"] == "used", e["backup-pull"]
assert e["admin"]["counter_hits"] == 0, e["admin"]
assert j["counter_hits_unattributed"] == 2, j
PY
then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL unused json counter hits"; fi
expect "unused needs --since" 2 "give --since" \
  "$polder" unused --local "$work/spool" --policy "$policy"

expect "suggest writes a file" 0 "polder suggest: 1 flows" \
  "$polder" suggest --local "$work/spool" --policy "$policy" --since 30d -o "$work/suggested.yaml"
expect "suggest: internet to the database breaks an invariant" 0 \
  "not suggested: it would break invariant db-only-through-apps (invariants.yaml:5)" cat "$work/suggested.yaml"
expect "suggest: the partner's tcp/8443 would break the partners' exposure budget" 0 \
  "not suggested: it would break invariant partner-exposure-budget" cat "$work/suggested.yaml"
expect "suggest: host to host, the port seen" 0 "from: permits-1
    to: db-1
    services: [tcp-6432]" cat "$work/suggested.yaml"
cp -r "$policy" "$work/merged"
cp "$work/suggested.yaml" "$work/merged/suggested.yaml"
expect "check passes with the suggestion merged" 0 "" "$polder" check "$work/merged"
expect "before: permits-1 to db-1 tcp/6432 is denied" 1 "DENIED" \
  "$polder" explain "$policy" --from permits-1 --to db-1 --port tcp/6432
expect "after: allowed by the suggested flow" 0 "suggested.yaml" \
  "$polder" explain "$work/merged" --from permits-1 --to db-1 --port tcp/6432
expect "never wider than seen: tcp/6433 stays denied" 1 "DENIED" \
  "$polder" explain "$work/merged" --from permits-1 --to db-1 --port tcp/6433
expect "never wider than seen: another app host stays denied" 1 "DENIED" \
  "$polder" explain "$work/merged" --from subsidies-1 --to db-1 --port tcp/6432
expect "refused flows stay out: the partner's tcp/8443 is still denied" 1 "DENIED" \
  "$polder" explain "$work/merged" --from 198.18.1.7 --to permits-1 --port tcp/8443

printf '%s\n' '{"host":"x"}' >>"$work/bad"
head -1 "$work/spool" >>"$work/bad"
expect "a malformed line is an error naming FILE:LINE" 2 "bad:1: traffic report" \
  "$polder" traffic --local "$work/bad" --policy "$policy"
expect "--controller needs --tls-dir or --insecure" 2 "give --tls-dir DIR" \
  "$polder" traffic --controller 127.0.0.1:1 --policy "$policy"
expect "--local and --controller are one source or the other" 2 "not both" \
  "$polder" traffic --local "$work/spool" --controller 127.0.0.1:1 --insecure --policy "$policy"
expect "an unreachable controller is said, not an empty answer" 2 "cannot reach controller" \
  "$polder" unused --controller 127.0.0.1:1 --insecure --policy "$policy" --since 7d

expect_summary
