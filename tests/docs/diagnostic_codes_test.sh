#!/usr/bin/env bash
# docs/diagnostics.md is what `polder help codes --format markdown` prints, and
# every code a compiler source emits (DiagnosticList::Error/Warning, or a
# Diagnostic's `code =`) is in that catalogue, so SARIF's helpUri and the
# docs never point at a code that is not explained.
set -euo pipefail
polder=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
fail=0
if ! diff -u "$top/docs/diagnostics.md" <("$polder" help codes --format markdown); then
  echo "FAIL: docs/diagnostics.md differs from 'polder help codes --format markdown'" \
       "(regenerate it: polder help codes --format markdown > docs/diagnostics.md)"
  fail=1
fi
catalogue=$("$polder" help codes | grep -E '^[a-z]' || true)
[ -n "$catalogue" ] || { echo "FAIL: polder help codes printed no codes"; exit 1; }
emitted=$(python3 - "$top" <<'PY'
import pathlib, re, sys
top = pathlib.Path(sys.argv[1])
pattern = re.compile(r'(?:\.|\b)(?:Error|Warning)\(\s*[^;"]*?,\s*"([a-z]+(?:-[a-z]+)+)"'
                     r'|\bcode\s*=\s*"([a-z]+(?:-[a-z]+)+)"', re.S)
codes = set()
for path in (top / "compiler").rglob("*.cc"):
    if path.name.endswith("_test.cc"):
        continue
    for m in pattern.finditer(path.read_text()):
        codes.add(m.group(1) or m.group(2))
print("\n".join(sorted(codes)))
PY
)
count=0
for code in $emitted; do
  count=$((count + 1))
  if ! grep -qx "$code" <<<"$catalogue"; then
    echo "FAIL: code '$code' is emitted by compiler/ but missing from compiler/model/diagnostic_codes.cc"
    fail=1
  fi
done
[ "$count" -ge 10 ] || { echo "FAIL: found only $count emitted codes; the source scan is broken"; exit 1; }
[ $fail -eq 0 ] && echo "PASS: $count emitted codes are catalogued and docs/diagnostics.md is current"
exit $fail
