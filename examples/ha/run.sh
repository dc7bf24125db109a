#!/usr/bin/env bash
# Three polder controllers on a 3-member etcd cluster, with agents in lab namespaces (as root):
# starts etcd (on the controller host's loopback, data in a temporary directory), 3 controllers
# (each --store etcd:...), one agent per host with --controller naming all three; shows
# `polder status` from each controller agreeing (revision, policy bundle, members, leader),
# kills the controller serving the most agents and shows them on the others. Everything is
# removed at the end (HA_KEEP=1: waits for Enter first, to look around).
#
#   sudo examples/ha/run.sh [BUILD_DIR]      (default: build)
#
# It is the first part of the CI fault test (tests/ha/fault_e2e.sh), run with EXAMPLE=1.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "${1:-$root/build}" && pwd)/bin
[ -x "$bin/polder-controller" ] || bin=$(dirname "$(command -v polder-controller)")
EXAMPLE=1 exec "$root/tests/ha/fault_e2e.sh" "$bin/polder" "$bin/polder-controller" \
  "$bin/polder-agent" "$root/policies/municipality"
