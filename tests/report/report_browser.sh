#!/bin/bash
# `polder report` renders in a real browser: for the bundled policies it
# writes the page, headless Chromium takes a screenshot and dumps the DOM, and
# the test checks the screenshot (a PNG of the window's size that is not
# blank) and the text a reader needs (zone names, invariant names, the
# sections). The browser runs in a network namespace with nothing but
# loopback, so the page can only render from what it carries itself (and the
# browser sends nothing anywhere). Also: a violated invariant is shown with
# exit 0, a missing Graphviz is said on the page and on stderr, and a
# malformed drill file is an error with exit 2.
# Exits 77 (skip) when chromium is missing: install-deps.sh --test brings it.
# usage: report_browser.sh POLDER SOURCE_DIR
set -euo pipefail
polder=$1 src=$2
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  echo "SKIP: chromium is not installed (scripts/install-deps.sh --test installs it)"
  exit 77
fi
# No network for the browser: a namespace of its own (root) or of a user
# namespace (unprivileged), gone when it exits.
isolate=(unshare --net --)
if ! unshare --net -- true 2>/dev/null; then
  isolate=(unshare --user --map-root-user --net --)
  if ! unshare --user --map-root-user --net -- true 2>/dev/null; then
    echo "FAIL: cannot start the browser without network (unshare --net)" >&2
    exit 1
  fi
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# browse PAGE NAME: NAME.png (screenshot) and NAME.dom (the DOM after load).
browse() {
  local page=$1 name=$2
  local flags=(--headless --disable-gpu --no-first-run --disable-dev-shm-usage
               --user-data-dir="$work/profile-$name" --window-size=1280,2000 --hide-scrollbars)
  [ "$(id -u)" -eq 0 ] && flags+=(--no-sandbox)
  timeout 120 "${isolate[@]}" "$chromium" "${flags[@]}" --screenshot="$work/$name.png" \
    "file://$page" >"$work/$name.screenshot.log" 2>&1 ||
    fail "chromium could not take a screenshot of $page: $(tail -5 "$work/$name.screenshot.log")"
  timeout 120 "${isolate[@]}" "$chromium" "${flags[@]}" --dump-dom "file://$page" \
    >"$work/$name.dom" 2>"$work/$name.dom.log" ||
    fail "chromium could not dump the DOM of $page: $(tail -5 "$work/$name.dom.log")"
}

# check_png FILE: a PNG of 1280x2000 whose pixels are not all alike.
check_png() {
  python3 - "$1" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"{sys.argv[1]}: not a PNG")
width, height = struct.unpack(">II", data[16:24])
if (width, height) != (1280, 2000):
    sys.exit(f"{sys.argv[1]}: {width}x{height}, expected the window's 1280x2000")
idat, pos = b"", 8
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + length]
    pos += 12 + length
pixels = zlib.decompress(idat)
# Rows start with a filter byte; a blank page filters to (nearly) all zeros.
busy = sum(1 for b in pixels if b) / len(pixels)
if busy < 0.01:
    sys.exit(f"{sys.argv[1]}: looks blank ({busy:.2%} non-zero bytes)")
print(f"{sys.argv[1]}: {width}x{height}, {len(data)} bytes, {busy:.1%} busy")
PY
}

# expect FILE TEXT...: every TEXT occurs in FILE.
expect() {
  local file=$1
  shift
  for text in "$@"; do
    grep -qF -- "$text" "$file" || fail "$(basename "$file") lacks \"$text\""
  done
}

names() {  # the `- name:` values of a policy's YAML files under key $2
  python3 - "$1" "$2" <<'PY'
import pathlib, sys, yaml
for f in sorted(pathlib.Path(sys.argv[1]).rglob("*.yaml")):
    doc = yaml.safe_load(f.read_text()) or {}
    for item in doc.get(sys.argv[2], []) or []:
        print(item["name"])
PY
}

for policy in municipality shared-service; do
  dir=$src/policies/$policy
  page=$work/$policy.html
  # Early 2027: shared-service's partner flows expire within 90 days.
  "$polder" report "$dir" --format html -o "$page" --now 2027-02-01T00:00:00Z \
    2>"$work/$policy.stderr" || fail "polder report $policy: $(cat "$work/$policy.stderr")"
  expect "$work/$policy.stderr" "polder report: wrote $page"
  if grep -q 'no picture' "$work/$policy.stderr"; then fail "$(cat "$work/$policy.stderr")"; fi
  browse "$page" "$policy"
  check_png "$work/$policy.png"
  dom=$work/$policy.dom
  expect "$dom" "Segmentation report: $policy" "Zone graph" "Invariants" "Exposure" \
    "Flows expiring within 90 days" "Postures" "<svg"
  mapfile -t zones < <(names "$dir" zones)
  mapfile -t invariants < <(names "$dir" invariants)
  [ ${#zones[@]} -gt 3 ] && [ ${#invariants[@]} -gt 0 ] || fail "cannot read names of $policy"
  for z in "${zones[@]}"; do
    expect "$dom" "<title>$z</title>"  # the zone's node in the SVG
  done
  for i in "${invariants[@]}"; do
    expect "$dom" "<b>$i</b>"
  done
  expect "$dom" "<h3>internet: "  # exposure per external zone
done
# The expiring flows of shared-service, by owner with their tickets.
expect "$work/shared-service.dom" "Owner: team-permits" "INC-2026-0917-01" "flows-partners.yaml:"

# A violated invariant is shown, and the page is still written (exit 0).
cp -r "$src/policies/municipality" "$work/broken"
cat >"$work/broken/zz-violation.yaml" <<'YAML'
flows:
  - name: internet-to-db
    from: internet
    to: db
    services: [any]
YAML
"$polder" report "$work/broken" -o "$work/broken.html" --now 2027-02-01T00:00:00Z 2>/dev/null ||
  fail "a violated invariant must not fail the report (exit $?)"
browse "$work/broken.html" broken
expect "$work/broken.dom" "violated" "internet-to-db" "zz-violation.yaml:2"

# No Graphviz: the page says so (and renders), stderr says so, exit 0.
env PATH=/nonexistent "$polder" report "$src/policies/municipality" -o "$work/nodot.html" \
  2>"$work/nodot.stderr" || fail "a missing dot must not fail the report"
expect "$work/nodot.stderr" "no picture of the zone graph" "dot"
expect "$work/nodot.html" "No picture of the zone graph:" "is not installed"
browse "$work/nodot.html" nodot
check_png "$work/nodot.png"

# A drill file is shown with its posture; a malformed one is exit 2, never a crash.
revision=$("$polder" check "$src/policies/shared-service" --format json | python3 -c \
  'import json, sys; print(json.load(sys.stdin)["revision"])')
posture=$(names "$src/policies/shared-service" postures | sed -n 1p)  # reads all: head would break the pipe
cat >"$work/drill.json" <<JSON
{"policy_revision": "$revision", "posture": "${posture:-lockdown}", "posture_revision": "x",
 "started": "2026-12-02T08:00:00Z",
 "activate": {"enforced_ms": 412, "timeout_ms": 5000, "hosts": [{"host": "db-1", "enforced_ms": 390}]},
 "probe_posture": {"cases": 120, "probed": 120, "skipped": 0, "disagree": 0, "disagreements": []},
 "release": {"enforced_ms": 380, "timeout_ms": 5000, "hosts": []},
 "probe_normal": {"cases": 120, "probed": 120, "skipped": 0, "disagree": 0, "disagreements": []},
 "agree": true}
JSON
"$polder" report "$src/policies/shared-service" -o "$work/drill.html" --drill "$work/drill.json" \
  2>/dev/null || fail "polder report --drill failed"
if [ -n "$posture" ]; then
  browse "$work/drill.html" drill
  expect "$work/drill.dom" "Last drill, started 2026-12-02T08:00:00Z" "every probe agreed" \
    "It ran against this revision of the policy." "412 ms"
else
  expect "$work/drill.html" "which this policy does not have"
fi
printf '{"policy_revision": "a", "posture": 3' >"$work/bad.json"
set +e
"$polder" report "$src/policies/shared-service" -o "$work/bad.html" --drill "$work/bad.json" \
  2>"$work/bad.stderr"
status=$?
set -e
[ "$status" -eq 2 ] || fail "a malformed drill file exits $status, not 2"
expect "$work/bad.stderr" "bad.json: not valid JSON"
[ ! -e "$work/bad.html" ] || fail "a malformed drill file still wrote a page"
set +e
"$polder" report "$src/policies/shared-service" -o "$work/x.html" --drill "$work/missing.json" \
  2>"$work/missing.stderr"
status=$?
"$polder" report "$src/policies/shared-service" 2>/dev/null  # no -o
usage=$?
set -e
[ "$status" -eq 2 ] || fail "an unreadable drill file exits $status, not 2"
expect "$work/missing.stderr" "cannot read $work/missing.json"
[ "$usage" -eq 2 ] || fail "a missing -o exits $usage, not 2"
echo "PASS: report renders in chromium for municipality and shared-service"
