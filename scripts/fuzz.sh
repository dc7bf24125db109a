#!/usr/bin/env bash
# Builds the loader fuzzer with clang (ASan + UBSan) and runs it for a bounded
# time over the seed corpus. Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
build="$top/build-clang"
bash "$top/scripts/build-clang.sh" >/dev/null  # incremental: cheap when up to date
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$top"/compiler/frontend/fuzz_corpus/* "$corpus"/
cd "$build"
UBSAN_OPTIONS=halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
  ./bin/policy_loader_fuzz -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -max_len=65536 "$corpus" 2>&1 | tail -n 5
echo "fuzz: ${seconds}s under ASan/UBSan, no crash"
