# Fleet harness shared by tests/fleet, scripts/demo.sh and bench/fleet: a polder policy brought
# up in network namespaces with a real controller and real agents.
#
#   fleet_init PREFIX             work dir + namespace prefix; installs the cleanup trap
#   fleet_network POLICY_DIR      `polder lab up --no-agents`: a namespace per host and per zone
#                                 without hosts, on a bridge in a namespace of its own
#   fleet_pki                     CA, controller certificate, one per host, one admin
#   fleet_controller_start        polder-controller in the controller host's namespace
#   fleet_agent_start HOST [ARGS] polder-agent --controller in HOST's namespace
#   fleet_status                  `polder status --format json` (admin certificate)
#   fleet_admin CMD ARGS          `polder CMD` as the admin (quarantine, release, posture activate)
#   fleet_wait_converged SECONDS  every agent connected with applied == desired == served
#   fleet_probe                   `polder lab probe`: real packets between all namespaces
#
# Needs root. Namespace names are PREFIX + a short suffix (PREFIX should hold the pid); every
# process started is recorded and killed by pid, every namespace is deleted, also on failure.
# Callers set POLDER, POLDER_CONTROLLER and POLDER_AGENT to the binaries.

FLEET_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fleet_log() { printf '%s %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*" >&2; }
fleet_die() {
  fleet_log "FAIL: $*"
  exit 1
}

fleet_init() {
  FLEET_PREFIX=$1
  FLEET_DIR=$(mktemp -d "/tmp/polder-fleet-${FLEET_PREFIX}XXXXXX")
  mkdir -p "$FLEET_DIR/pids" "$FLEET_DIR/logs" "$FLEET_DIR/state" "$FLEET_DIR/labs"
  export POLDER_LAB_DIR="$FLEET_DIR/labs"
  trap fleet_cleanup EXIT
  trap 'exit 130' INT TERM
}

fleet_cleanup() {
  local rc=$?
  set +e
  # A reader that went away (a pipe to `head`) must not stop the cleanup half-way: writes to
  # it fail instead of killing this shell, and what was started is stopped either way.
  trap '' PIPE
  # FLEET_SAVE_LOGS=DIR: a failed run's logs are copied there whole, for a later look.
  if [ -n "${FLEET_SAVE_LOGS:-}" ] && [ "$rc" -ne 0 ]; then
    mkdir -p "$FLEET_SAVE_LOGS" && cp -r "$FLEET_DIR/logs/." "$FLEET_SAVE_LOGS/"
  fi
  if [ -n "${FLEET_KEEP_LOGS:-}" ] || [ "$rc" -ne 0 ]; then
    for f in "$FLEET_DIR"/logs/*.log; do
      [ -s "$f" ] || continue
      echo "----- $(basename "$f") (last 15 lines)" >&2
      tail -n 15 "$f" >&2
    done
  fi
  for p in "$FLEET_DIR"/pids/*; do
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
  done
  sleep 0.2
  for p in "$FLEET_DIR"/pids/*; do
    [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
  done
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep "^${FLEET_PREFIX}"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$ns"
  done
  rm -rf "$FLEET_DIR"
  exit $rc
}

# Runs "$@" in the background, records its pid under NAME.
fleet_spawn() {
  local name=$1 ns=$2
  shift 2
  ip netns exec "$ns" "$@" >>"$FLEET_DIR/logs/$name.log" 2>&1 &
  echo $! >"$FLEET_DIR/pids/$name"
}

fleet_stop() {  # NAME [SIGNAL]: stops one recorded process and waits for it (bounded)
  local f="$FLEET_DIR/pids/$1" i
  [ -f "$f" ] || return 0
  local pid
  pid=$(cat "$f")
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$f"
}

fleet_ns() { awk -v h="$1" '$1 == h {print $2}' "$FLEET_DIR/hosts.tsv"; }
fleet_addr() { awk -v h="$1" '$1 == h {print $3}' "$FLEET_DIR/hosts.tsv"; }
fleet_hosts() { awk '{print $1}' "$FLEET_DIR/hosts.tsv"; }

# The namespaces come from `polder lab up --no-agents`: one per host with its addresses, one
# per zone without hosts (e.g. the internet) with an address of that zone, on a bridge in a
# namespace of its own. hosts.tsv lists the managed hosts: NAME NETNS FIRST_ADDRESS ADDRESS...
fleet_network() {
  FLEET_POLICY=$1
  read -r FLEET_CTRL_ADDR FLEET_CTRL_PORT < <(python3 "$FLEET_LIB_DIR/policy_info.py" controller "$FLEET_POLICY")
  "$POLDER" lab up "$FLEET_POLICY" --name fleet --ns-prefix "$FLEET_PREFIX" --no-agents \
    >"$FLEET_DIR/logs/lab-up.log" 2>&1 || fleet_die "polder lab up: $(cat "$FLEET_DIR/logs/lab-up.log")"
  python3 - "$POLDER_LAB_DIR/fleet/state.json" "$FLEET_DIR/hosts.tsv" "$FLEET_DIR/zones.tsv" <<'PY'
import json, sys
state, hosts, zones = sys.argv[1:4]
with open(hosts, "w") as h, open(zones, "w") as z:
    for e in json.load(open(state))["endpoints"]:
        out = h if e["managed"] else z
        out.write(" ".join([e["name"], e["netns"], e["addresses"][0]] + e["addresses"]) + "\n")
PY
  local name addrs
  while read -r name _ _ addrs; do
    case " $addrs " in *" $FLEET_CTRL_ADDR "*) FLEET_CTRL_HOST=$name ;; esac
  done <"$FLEET_DIR/hosts.tsv"
  [ -n "${FLEET_CTRL_HOST:-}" ] || fleet_die "no host of the policy has the controller address $FLEET_CTRL_ADDR"
  FLEET_CTRL_NS=$(fleet_ns "$FLEET_CTRL_HOST")
}

fleet_pki() {
  local pki="$FLEET_DIR/pki" h
  "$POLDER" pki init "$pki" --controller-address "$FLEET_CTRL_ADDR" >/dev/null || fleet_die "pki init"
  for h in $(fleet_hosts); do
    "$POLDER" pki issue "$pki" --host "$h" >/dev/null || fleet_die "pki issue $h"
  done
  "$POLDER" pki issue "$pki" --admin fleet-test >/dev/null || fleet_die "pki issue admin"
}

fleet_controller_start() {
  fleet_spawn controller "$FLEET_CTRL_NS" "$POLDER_CONTROLLER" --policy "$FLEET_POLICY" \
    --listen "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" --tls-dir "$FLEET_DIR/pki/controller" \
    --state "$FLEET_DIR/state/controller.db" "$@"
  local i
  for i in $(seq 100); do
    fleet_status >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fleet_die "controller did not answer within 10 s"
}

fleet_agent_start() {
  local host=$1
  shift
  fleet_spawn "agent-$host" "$(fleet_ns "$host")" "$POLDER_AGENT" \
    --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" --host "$host" \
    --tls-dir "$FLEET_DIR/pki/agents/$host" --state-dir "$FLEET_DIR/state/agent-$host" "$@"
}

fleet_agents_start() {
  local h
  for h in $(fleet_hosts); do fleet_agent_start "$h" "$@"; done
}

fleet_status() {
  ip netns exec "$FLEET_CTRL_NS" "$POLDER" status --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
    --tls-dir "$FLEET_DIR/pki/admins/fleet-test" --format json
}

fleet_admin() {  # quarantine|release|status ARGS... or posture activate|release ARGS...
  local cmd=("$1")
  shift
  if [ "${cmd[0]}" = posture ]; then
    cmd+=("$1")
    shift
  fi
  ip netns exec "$FLEET_CTRL_NS" "$POLDER" "${cmd[@]}" --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
    --tls-dir "$FLEET_DIR/pki/admins/fleet-test" "$@"
}

# Prints "yes" when every host listed (default: all) is connected with applied == desired ==
# the served revision, and the served revision differs from $2 (when given).
fleet_converged_now() {
  fleet_status 2>/dev/null | python3 -c '
import json, sys
want = set(sys.argv[1].split()) if sys.argv[1] else None
old = sys.argv[2]
s = json.load(sys.stdin)
rev = s["revision"]
ok = bool(rev) and rev != old
seen = set()
for h in s["hosts"]:
    if want is not None and h["host"] not in want:
        continue
    seen.add(h["host"])
    ok = ok and h["connected"] and h["applied_revision"] == h["desired_revision"] == rev
print("yes" if ok and (want is None or seen == want) else "no")
' "${FLEET_WAIT_HOSTS:-}" "${1:-}"
}

fleet_wait_converged() {  # SECONDS [OLD_REVISION]
  local deadline=$(($(date +%s%N) + $1 * 1000000000))
  while [ "$(date +%s%N)" -lt $deadline ]; do
    [ "$(fleet_converged_now "${2:-}")" = yes ] && return 0
    sleep 0.05
  done
  fleet_status >&2
  return 1
}

fleet_revision() { fleet_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])'; }

# Probes every pair of the lab's namespaces (hosts and zone stand-ins) against the policy with
# `polder lab probe`; fails on any disagreement. Extra arguments go to `polder lab probe`.
fleet_probe() {
  "$POLDER" lab probe --name fleet --timeout-ms "${FLEET_PROBE_TIMEOUT_MS:-300}" "$@"
}

# tcp_open SRC_HOST DST_ADDR PORT: 0 when a TCP connection is accepted within 0.3 s.
fleet_tcp_open() {
  ip netns exec "$(fleet_ns "$1")" timeout 0.3 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# Starts listeners (listen.py) in HOST's namespace on its first address for PORTS.
fleet_listen() {
  local host=$1 specs="" p
  shift
  for p in "$@"; do specs="$specs $(fleet_addr "$host"):$p"; done
  # shellcheck disable=SC2086
  fleet_spawn "listen-$host" "$(fleet_ns "$host")" python3 -u "$FLEET_LIB_DIR/listen.py" $specs
  local i
  for i in $(seq 50); do
    grep -q ready "$FLEET_DIR/logs/listen-$host.log" 2>/dev/null && return 0
    sleep 0.1
  done
  fleet_die "listener in $host did not start"
}

fleet_nft() {  # HOST ARGS...: nft inside HOST's namespace
  local ns
  ns=$(fleet_ns "$1")
  shift
  ip netns exec "$ns" nft "$@"
}

# Configuration only: what traffic puts in observation sets is no change of the table.
fleet_table() { fleet_nft "$1" -s list table inet polder 2>/dev/null | "$FLEET_LIB_DIR/../lib/nft_config.py"; }
