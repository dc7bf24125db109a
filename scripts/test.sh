#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, end-to-end in
# network namespaces as root, the schema check and a bounded fuzz run).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/build.sh"
cd "$top/build"
ctest --output-on-failure --timeout 900 -j2
