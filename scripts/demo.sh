#!/usr/bin/env bash
# The main job on the bundled example, end to end: install what is missing, build, check and
# compile policies/municipality, then run the whole fleet loop in a lab of network namespaces
# (one per host and per zone without hosts, a bridge in a namespace of its own): a CA and one
# certificate per host
# (`polder pki`), polder-controller in the controller host's namespace, a polder-agent in every
# host namespace talking mutual TLS, `polder status`, a probe table of real packets that must
# agree with the compiler, a tampering attempt restored by the agent, and a drill of the
# policy's crisis plan (its first posture). Everything it made
# is removed on exit, also on failure or Ctrl-C. Bounded: about a minute after the build.
#
# Usage (root): bash scripts/demo.sh [POLICY_DIR]
#   POLDER_BUILD_DIR=DIR  use an existing build instead of running scripts/build.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
policy=$(cd "${1:-$top/policies/municipality}" && pwd)
if [ -z "${POLDER_BUILD_DIR:-}" ]; then
  bash "$top/scripts/build.sh"
  POLDER_BUILD_DIR=$top/build
fi
export POLDER=$POLDER_BUILD_DIR/bin/polder
export POLDER_CONTROLLER=$POLDER_BUILD_DIR/bin/polder-controller
export POLDER_AGENT=$POLDER_BUILD_DIR/bin/polder-agent
# shellcheck source=../tests/fleet/lib.sh
. "$top/tests/fleet/lib.sh"
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it makes network namespaces)"; exit 2; }

echo "== polder check $policy"
"$POLDER" check "$policy" || [ $? = 1 ]  # findings are shown, not fatal for the demo
fleet_init "pd-$$-"
echo "== polder compile (all hosts) -> $FLEET_DIR/out"
"$POLDER" compile "$policy" --out "$FLEET_DIR/out" >/dev/null
ls "$FLEET_DIR/out"

echo "== lab: a network namespace per host, and per zone without hosts (stand-ins), on a bridge"
fleet_network "$policy"
{
  awk '{print "host", $1, $2, $4, $5}' "$FLEET_DIR/hosts.tsv"
  awk '{print "zone", $1, $2, $4, $5}' "$FLEET_DIR/zones.tsv"
} | column -t

echo "== polder pki init / issue (CA, controller, one certificate per host, an admin)"
fleet_pki
ls "$FLEET_DIR/pki" "$FLEET_DIR/pki/agents"

echo "== polder-controller --listen $FLEET_CTRL_ADDR:$FLEET_CTRL_PORT in $FLEET_CTRL_HOST's namespace"
fleet_controller_start
echo "== polder-agent --controller ... in every host namespace"
t0=$(date +%s%N)
fleet_agents_start
fleet_wait_converged 30 || fleet_die "the agents did not converge"
echo "all $(fleet_hosts | wc -l) agents applied their rulesets in $((($(date +%s%N) - t0) / 1000000)) ms"

echo "== polder status"
ip netns exec "$FLEET_CTRL_NS" "$POLDER" status --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
  --tls-dir "$FLEET_DIR/pki/admins/fleet-test"

echo "== probe table: real TCP/UDP/ICMP between every pair of namespaces vs. the compiler"
fleet_probe

victim=$(fleet_hosts | grep -x db-1 || fleet_hosts | grep -vx "$FLEET_CTRL_HOST" | head -1)
echo "== tampering: nft add rule inet polder input accept on $victim"
before=$(fleet_table "$victim" || true)
fleet_nft "$victim" add rule inet polder input accept 2>/dev/null || true
for _ in $(seq 50); do
  [ "$(fleet_table "$victim")" = "$before" ] && break
  sleep 0.02
done
if [ "$(fleet_table "$victim")" = "$before" ]; then echo "restored by the agent"; else echo "NOT restored"; fi
sleep 0.2
grep "drift on" "$FLEET_DIR/logs/controller.log" | tail -1 || true
# The crisis plan, rehearsed (spec §6a): the policy's first posture activated through the
# controller, every host timed until it enforces it, the whole table probed against the
# posture's effective policy, released, probed again.
posture=${DEMO_POSTURE:-$(cat "$policy"/*.yaml "$policy"/*/*.yaml 2>/dev/null |
  sed -n '/^postures:/,/^[a-z]/s/^  - name: *\([A-Za-z0-9_.-]*\).*/\1/p' | head -1)}
if [ -n "$posture" ]; then
  echo "== polder lab drill $posture (activate, time, probe, release, probe)"
  "$POLDER" lab drill "$policy" "$posture" --name fleet --tls-dir "$FLEET_DIR/pki/admins/fleet-test" \
    --timeout-ms "${FLEET_PROBE_TIMEOUT_MS:-300}" --reason "demo drill" ||
    fleet_die "the drill of $posture disagrees with the compiler (see above)"
else
  echo "== no posture in $policy: no drill (spec §6a; see policies/municipality/postures.yaml)"
fi
echo "== done; removing the lab"
