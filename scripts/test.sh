#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, end-to-end in
# network namespaces as root, the boundary and schema checks, a bounded fuzz
# run), after a clang build that checks the lock annotations of the agent and
# the controller (-Werror=thread-safety).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# The tests' own packages too (chromium for the report's browser test).
bash "$top/scripts/install-deps.sh" --test
bash "$top/scripts/build.sh"
bash "$top/scripts/build-clang.sh"
cd "$top/build"
ctest --output-on-failure --timeout 900 -j2
