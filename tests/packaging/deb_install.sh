#!/usr/bin/env bash
# The Debian packages (scripts/package.sh) install and work: they are built from BUILD_DIR,
# checked with lintian (no error), and installed with `dpkg -i` into a throwaway root, a
# copy-on-write overlay of this machine's / (its Debian libraries and dpkg database, without
# polder) whose changes go to a tmpfs and vanish on exit; the host is never touched. In that
# root: `polder --version`, `polder check` on the bundled example, the agent's and the
# controller's --help (their libraries resolve), man pages, conffiles, the user polder and the
# state directories, `systemd-analyze verify` on the installed units, and a clean purge.
# Exits 77 (skipped) only when a tool it needs is missing
# (`bash scripts/install-deps.sh --test` installs them).
# Usage: deb_install.sh SOURCE_DIR BUILD_DIR   (root: it mounts the overlay and chroots)
set -euo pipefail
SRC=${1:?source directory}
BUILD=${2:?build directory}
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }
for tool in cpack help2man dpkg-deb dpkg-shlibdeps fakeroot lintian systemd-analyze chroot \
  mount; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is not installed (bash scripts/install-deps.sh --test)"
    exit 77
  fi
done
[ "$(id -u)" -eq 0 ] || fail "needs root (it mounts an overlay root and chroots into it)"
# In a mount namespace of its own: the mounts vanish with it even if this script is killed.
if [ -z "${POLDER_DEB_TEST_UNSHARED:-}" ] && command -v unshare >/dev/null; then
  POLDER_DEB_TEST_UNSHARED=1 exec unshare --mount --propagation private bash "$0" "$@"
fi

WORK=$(mktemp -d /tmp/pt-deb.XXXXXX)
ROOT=$WORK/root
cleanup() {
  for m in "$ROOT/dev" "$ROOT/proc" "$ROOT" "$WORK/rw"; do
    if mountpoint -q "$m"; then umount -l "$m" || true; fi
  done
  # --one-file-system: a bind mount that would not go (umount failed) is not descended into,
  # so the host's /dev can never be removed through it.
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. Build the packages.
bash "$SRC/scripts/package.sh" "$BUILD" "$WORK/debs" >"$WORK/package.log" 2>&1 ||
  { cat "$WORK/package.log"; fail "scripts/package.sh"; }
debs=("$WORK"/debs/*.deb)
names=$(for d in "${debs[@]}"; do dpkg-deb -f "$d" Package; done | sort | tr '\n' ' ')
[ "$names" = "polder polder-agent polder-controller " ] || fail "packages built: $names"
pass "built ${#debs[@]} packages: $(cd "$WORK/debs" && echo *.deb)"
deb() { echo "$WORK"/debs/"$1"_*.deb; }

# 2. Their control data: dpkg-shlibdeps' Depends, the conffiles.
for p in polder polder-agent polder-controller; do
  depends=$(dpkg-deb -f "$(deb $p)" Depends)
  grep -q 'libc6 (>=' <<<"$depends" || fail "$p: Depends has no libc6: $depends"
  echo "  $p Depends: $depends"
done
agent_depends=$(dpkg-deb -f "$(deb polder-agent)" Depends)
grep -q 'libnftables1' <<<"$agent_depends" || fail "polder-agent does not depend on libnftables1"
# The agent never links the compiler (docs/architecture.md): none of its libraries.
if grep -qE 'yaml-cpp|boost' <<<"$agent_depends"; then
  fail "polder-agent depends on a compiler library: $agent_depends"
fi
grep -q 'adduser' <<<"$(dpkg-deb -f "$(deb polder-controller)" Depends)" ||
  fail "polder-controller does not depend on adduser (its postinst makes the user polder)"
grep -q 'libsqlite3' <<<"$(dpkg-deb -f "$(deb polder-controller)" Depends)" ||
  fail "polder-controller does not depend on libsqlite3"
for p in polder-agent polder-controller; do
  dpkg-deb -I "$(deb $p)" conffiles | grep -qx "/etc/default/$p" ||
    fail "$p: /etc/default/$p is not a conffile"
done
pass "Depends from dpkg-shlibdeps, conffiles"

# 3. lintian: no error (warnings and notes are printed, not fatal).
lintian_out=$(lintian --tag-display-limit 0 "${debs[@]}" 2>&1) || true
echo "$lintian_out" | sed 's/^/  lintian: /'
if grep -q '^E:' <<<"$lintian_out"; then fail "lintian reports errors"; fi
# lintian that could not read a package prints no tags but says so.
if grep -qiE 'cannot|failed|not a debian' <<<"$lintian_out"; then fail "lintian did not run"; fi
pass "lintian: no errors"

# 4. A throwaway root: this machine's /, copy-on-write, changes on a tmpfs.
mkdir -p "$WORK/rw" "$ROOT"
mount -t tmpfs -o size=2g tmpfs "$WORK/rw"
mkdir -p "$WORK/rw/upper" "$WORK/rw/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$WORK/rw/upper,workdir=$WORK/rw/work" "$ROOT"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
in_root() { chroot "$ROOT" "$@"; }
# Clean of polder: no package and no stray file of an earlier `cmake --install`.
for p in polder polder-agent polder-controller; do
  if in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
    in_root dpkg --purge "$p" >/dev/null
  fi
done
rm -f "$ROOT"/usr/bin/polder "$ROOT"/usr/bin/polder-agent "$ROOT"/usr/bin/polder-controller
rm -rf "$ROOT/etc/polder" "$ROOT/etc/default/polder-agent" "$ROOT/etc/default/polder-controller" \
  "$ROOT/var/lib/polder" "$ROOT/var/lib/polder-agent" "$ROOT/usr/share/polder"
if in_root getent passwd polder >/dev/null; then in_root deluser --system polder >/dev/null; fi
# No service is started in the root (the postinst scripts only start with systemd running).
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
mkdir -p "$ROOT/tmp/debs"
cp "${debs[@]}" "$ROOT/tmp/debs/"

# 5. Install.
in_root sh -c 'dpkg -i /tmp/debs/*.deb' >"$WORK/dpkg.log" 2>&1 ||
  { cat "$WORK/dpkg.log"; fail "dpkg -i"; }
for p in polder polder-agent polder-controller; do
  in_root dpkg-query -W -f='${Status}\n' "$p" | grep -qx 'install ok installed' ||
    fail "$p is not installed"
done
[ "$(in_root dpkg -S /usr/bin/polder-agent | cut -d: -f1)" = polder-agent ] ||
  fail "/usr/bin/polder-agent does not come from polder-agent"
pass "dpkg -i of the three packages"

# 6. What they installed works.
version=$(dpkg-deb -f "$(deb polder)" Version)
out=$(in_root polder --version)
[ "$out" = "polder ${version%-*}" ] || fail "polder --version says '$out', package is $version"
pass "polder --version: $out"
example=/usr/share/polder/examples/municipality
[ -f "$ROOT$example/zones.yaml" ] || fail "$example is not installed"
status=0
out=$(in_root polder check "$example" 2>&1) || status=$?
[ "$status" -eq 0 ] || { echo "$out"; fail "polder check $example exits $status"; }
pass "polder check $example: $(tail -1 <<<"$out")"
for prog in polder-agent polder-controller; do
  out=$(in_root "$prog" --help 2>&1) || { echo "$out"; fail "$prog --help"; }
  grep -q -- '--tls-dir' <<<"$out" || fail "$prog --help does not list --tls-dir"
done
pass "polder-agent and polder-controller run (their libraries resolve)"
for prog in polder polder-agent polder-controller; do
  page=$ROOT/usr/share/man/man1/$prog.1.gz
  gzip -t "$page" || fail "$prog.1.gz is not gzip"
  zcat "$page" | grep -q '^\.TH' || fail "$prog.1.gz is no man page"
done
zcat "$ROOT/usr/share/man/man1/polder-agent.1.gz" | grep -q "/etc/default/polder-agent" ||
  fail "polder-agent(1) has no FILES section naming /etc/default/polder-agent"
pass "man pages"
for f in /etc/default/polder-agent /etc/default/polder-controller \
  /lib/systemd/system/polder-agent.service /lib/systemd/system/polder-agent-boot.service \
  /lib/systemd/system/polder-controller.service /usr/share/doc/polder-agent/copyright \
  /usr/share/doc/polder-controller/changelog.Debian.gz; do
  [ -f "$ROOT$f" ] || fail "$f is not installed"
done
in_root dpkg-query -W -f='${Conffiles}\n' polder-agent | grep -q /etc/default/polder-agent ||
  fail "dpkg does not record /etc/default/polder-agent as a conffile"
in_root getent passwd polder >/dev/null || fail "postinst did not make the user polder"
[ "$(in_root stat -c %U:%a /var/lib/polder)" = "polder:750" ] ||
  fail "/var/lib/polder is $(in_root stat -c %U:%a /var/lib/polder), want polder:750"
[ "$(in_root stat -c %U:%a /var/lib/polder-agent)" = "root:700" ] ||
  fail "/var/lib/polder-agent is $(in_root stat -c %U:%a /var/lib/polder-agent), want root:700"
pass "units, configuration, user polder, /var/lib/polder and /var/lib/polder-agent"

# 7. The installed units, as installed (their binaries, man pages and configuration).
units=(polder-agent-boot.service polder-agent.service polder-controller.service)
out=$(in_root systemd-analyze verify "${units[@]/#//lib/systemd/system/}" 2>&1) ||
  { echo "$out"; fail "systemd-analyze verify"; }
[ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify warns"; }
pass "systemd-analyze verify: ${units[*]}"

# 8. Reinstalling (the postinst's upgrade path) keeps an edited conffile and the state.
sed -i 's/^POLDER_HOST=.*/POLDER_HOST=db-1/' "$ROOT/etc/default/polder-agent"
echo kept >"$ROOT/var/lib/polder-agent/marker"
in_root sh -c 'dpkg -i /tmp/debs/polder-agent_*.deb' >"$WORK/dpkg2.log" 2>&1 ||
  { cat "$WORK/dpkg2.log"; fail "dpkg -i over the installed polder-agent"; }
grep -qx 'POLDER_HOST=db-1' "$ROOT/etc/default/polder-agent" ||
  fail "reinstalling polder-agent replaced the edited /etc/default/polder-agent"
[ -f "$ROOT/var/lib/polder-agent/marker" ] || fail "reinstalling polder-agent lost its state"
pass "reinstall keeps /etc/default/polder-agent and /var/lib/polder-agent"

# 9. Purge leaves nothing behind.
in_root dpkg --purge polder polder-agent polder-controller >"$WORK/purge.log" 2>&1 ||
  { cat "$WORK/purge.log"; fail "dpkg --purge"; }
for f in /usr/bin/polder /usr/bin/polder-agent /etc/default/polder-agent /var/lib/polder \
  /var/lib/polder-agent /lib/systemd/system/polder-agent.service; do
  [ ! -e "$ROOT$f" ] || fail "$f is left after purge"
done
pass "dpkg --purge"
