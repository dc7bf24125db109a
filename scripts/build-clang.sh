#!/usr/bin/env bash
# The clang build (build-clang/): the agent and the controller with lock
# annotations checked as errors (-Wthread-safety, see docs/architecture.md),
# and the loader's libFuzzer target under ASan/UBSan (scripts/fuzz.sh runs it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bash "$top/scripts/install-deps.sh"
CC=clang CXX=clang++ cmake -S "$top" -B "$top/build-clang" -G Ninja -DPOLDER_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="-Werror=thread-safety" >/dev/null
cmake --build "$top/build-clang" -j"$(nproc)" --target polder_agent polder_agent_uplink \
  polder_controller policy_loader_fuzz
