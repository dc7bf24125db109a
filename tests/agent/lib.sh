# Shared helpers for the agent's end-to-end tests. Every namespace is named pt-<pid>-<n> and
# removed by the EXIT trap, also when a test fails; nothing runs in the root namespace's nftables.
set -euo pipefail

AGENT=${AGENT:?path to polder-agent}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d /tmp/pt-agent-e2e.XXXXXX)
NAMESPACES=()
PIDS=()
NS_COUNTER=0

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  # Whatever else still runs in our namespaces (started through a subshell) goes too.
  for ns in "${NAMESPACES[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    echo "--- agent output (failure) ---" >&2
    cat "$WORK"/*.jsonl >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

new_ns() {  # new_ns VAR: creates a namespace with lo up and stores its name in VAR
  NS_COUNTER=$((NS_COUNTER + 1))
  local ns="pt-$$-$NS_COUNTER"
  NAMESPACES+=("$ns")  # Recorded first, so the trap removes it even if setup fails.
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  printf -v "$1" '%s' "$ns"
}

client_server_pair() {  # namespaces CLIENT (10.1.0.11) and SERVER (10.1.0.12) on one veth pair
  new_ns CLIENT
  new_ns SERVER
  ip link add "pt-$$-c" netns "$CLIENT" type veth peer name "pt-$$-s" netns "$SERVER"
  ip -n "$CLIENT" addr add 10.1.0.11/24 dev "pt-$$-c"
  ip -n "$SERVER" addr add 10.1.0.12/24 dev "pt-$$-s"
  ip -n "$CLIENT" link set "pt-$$-c" up
  ip -n "$SERVER" link set "pt-$$-s" up
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# start_agent NS OUTFILE RULESET [ARGS...]: sets AGENT_PID
start_agent() {
  local ns=$1 out=$2 ruleset=$3; shift 3
  ip netns exec "$ns" "$AGENT" --ruleset "$ruleset" "$@" >>"$out" 2>>"$WORK/agent.stderr" &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
}

count_events() { grep -c "\"event\":\"$2\"" "$1" 2>/dev/null || true; }

# wait_events FILE EVENT N: waits (at most 10 s) until FILE holds N events of that kind
wait_events() {
  local file=$1 event=$2 n=$3 i
  for i in $(seq 1 200); do
    [ "$(count_events "$file" "$event")" -ge "$n" ] && return 0
    sleep 0.05
  done
  fail "timed out waiting for $n '$event' events in $file"
}

polder_listing() { in_ns "$1" nft -s list table inet polder; }
