#!/bin/bash
# Golden rulesets of the bundled policies. After a deliberate change of the
# renderer or the policies, regenerate with POLDER_UPDATE_GOLDENS=1 (or
# `goldens.sh POLDER SRC --update`) and review the diff.
# usage: goldens.sh POLDER SOURCE_DIR [--update]
set -euo pipefail
polder=$1 src=$2
update=${POLDER_UPDATE_GOLDENS:-0}; [ "${3:-}" = --update ] && update=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
status=0
for p in municipality shared-service; do
  "$polder" compile "$src/policies/$p" --out "$work/$p" --now 2026-01-01T00:00:00Z 2>/dev/null
  # Determinism: a second run gives byte-identical files.
  "$polder" compile "$src/policies/$p" --out "$work/$p.again" --now 2026-01-01T00:00:00Z 2>/dev/null
  diff -r "$work/$p" "$work/$p.again" >/dev/null || { echo "$p: output not deterministic"; status=1; }
  golden="$src/tests/goldens/$p"
  if [ "$update" = 1 ]; then
    rm -rf "$golden"; mkdir -p "$golden"; cp "$work/$p"/* "$golden/"; echo "updated $golden"
  elif ! diff -ru "$golden" "$work/$p"; then
    echo "$p: rulesets differ from $golden (POLDER_UPDATE_GOLDENS=1 to accept)"; status=1
  fi
done
exit $status
