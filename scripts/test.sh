#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, end-to-end in
# network namespaces as root, the boundary and schema checks, a bounded fuzz
# run), after a clang build that checks the lock annotations of the agent and
# the controller (-Werror=thread-safety).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/build.sh"
bash "$top/scripts/build-clang.sh"
cd "$top/build"
ctest --output-on-failure --timeout 900 -j2
