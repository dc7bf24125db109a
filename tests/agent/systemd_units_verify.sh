#!/usr/bin/env bash
# The shipped systemd units (examples/systemd/*.service) pass `systemd-analyze verify`: they are
# copied with stand-ins for the binaries they start into a temporary root laid out as a package
# installs it (/usr/lib/systemd/system, /usr/bin, /etc/default) and verified there, so this
# works without systemd running as PID 1 and without root. Exits 77 (skipped) without
# systemd-analyze.
# Usage: systemd_units_verify.sh UNITS_DIR
set -euo pipefail
UNITS=${1:?directory of the shipped units}
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is not installed"
  exit 77
fi
ROOT=$(mktemp -d /tmp/pt-units.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/usr/lib/systemd/system" "$ROOT/usr/bin" "$ROOT/etc/default"
ln -s usr/bin "$ROOT/bin"  # merged /usr, as on Debian 12
# The targets and slices the units order against, from this system's systemd.
for dir in /usr/lib/systemd/system /lib/systemd/system; do
  if [ -d "$dir" ]; then
    cp "$dir"/*.target "$dir"/*.slice "$ROOT/usr/lib/systemd/system/" 2>/dev/null || true
    break
  fi
done
cp "$UNITS"/*.service "$ROOT/usr/lib/systemd/system/"
cp "$UNITS/polder-agent.default" "$ROOT/etc/default/polder-agent"
# verify checks that each ExecStart= binary exists and is executable; any executable does.
for bin in polder-agent polder-controller kill; do
  printf '#!/bin/sh\nexit 0\n' >"$ROOT/usr/bin/$bin"
  chmod 0755 "$ROOT/usr/bin/$bin"
done
units=()
for u in "$UNITS"/*.service; do units+=("$ROOT/usr/lib/systemd/system/$(basename "$u")"); done
[ "${#units[@]}" -ge 3 ] || { echo "FAIL: expected at least 3 units in $UNITS"; exit 1; }
# Warnings count as failures: verify prints them but exits 0 for some.
if ! out=$(systemd-analyze verify --man=no --root="$ROOT" "${units[@]}" 2>&1) || [ -n "$out" ]; then
  echo "FAIL: systemd-analyze verify:"
  echo "$out"
  exit 1
fi
echo "ok: ${#units[@]} units verified: $(cd "$UNITS" && echo *.service)"
