#!/usr/bin/env bash
# Builds the Debian packages polder, polder-agent and polder-controller into OUT_DIR
# (BUILD_DIR/packages unless given; BUILD_DIR is build/ unless given): the three programs, their
# man pages (help2man), then CPack's DEB generator (cmake/packaging.cmake). Prints the paths of
# the .deb files, one a line.
# usage: package.sh [BUILD_DIR [OUT_DIR]]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
out=${2:-$build/packages}
if [ ! -f "$build/CMakeCache.txt" ]; then
  bash "$top/scripts/install-deps.sh"
  cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
for tool in help2man dpkg-shlibdeps dpkg-deb fakeroot; do
  if ! command -v "$tool" >/dev/null; then
    echo "package: $tool is missing (bash scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
done
# A help2man installed after the first configure: look again.
if ! grep -q '^POLDER_HELP2MAN:FILEPATH=/' "$build/CMakeCache.txt"; then
  cmake -U POLDER_HELP2MAN "$build" >/dev/null
  if ! grep -q '^POLDER_HELP2MAN:FILEPATH=/' "$build/CMakeCache.txt"; then
    echo "package: CMake did not find help2man in $build" >&2
    exit 1
  fi
fi
cmake --build "$build" -j"$(nproc)" \
  --target polder polder-agent polder-controller polder_man polder_deb_changelog
mkdir -p "$out"
rm -f "$out"/*.deb
out=$(cd "$out" && pwd)
# fakeroot: files in the packages belong to root whoever builds them.
(cd "$build" && fakeroot cpack -G DEB --config CPackConfig.cmake -B "$out" >&2)
rm -rf "$out/_CPack_Packages"
ls "$out"/*.deb
