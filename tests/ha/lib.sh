# Shared by tests/ha/*.sh and examples/ha/: an etcd cluster and polder controllers on
# 127.0.0.1, every process recorded and killed by pid, data in a fresh directory (on /dev/shm
# when it exists), everything removed on exit, also on failure.
#
#   ha_init NAME                    work dir; installs the cleanup trap
#   ha_etcd_cluster N               N etcd members (election timeout 500 ms); sets HA_ETCD_URLS
#   ha_etcd_leader                  the index (1..N) of the member that leads now
#   ha_etcd_kill I                  SIGKILL member I
#   ha_controller_start I POLICY    polder-controller I --insecure on a free port, on the cluster
#   ha_controller_addr I            its HOST:PORT
#   ha_controller_kill I [SIGNAL]   stop controller I (default SIGKILL)
#   ha_status I                     `polder status --format json` from controller I
#   ha_wait MS DESCRIPTION CMD...   polls CMD every 50 ms until it succeeds, or fails the run
#   ha_now_ms                       the wall clock in milliseconds
#
# Callers set POLDER and POLDER_CONTROLLER to the binaries.

ha_log() { printf '%s %s\n' "$(date +%H:%M:%S.%N | cut -c1-12)" "$*" >&2; }
ha_die() {
  ha_log "FAIL: $*"
  exit 1
}

ha_init() {
  local base=/tmp
  [ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
  HA_DIR=$(mktemp -d "$base/polder-ha-$1-XXXXXX")
  mkdir -p "$HA_DIR/pids" "$HA_DIR/logs"
  trap ha_cleanup EXIT
  trap 'exit 130' INT TERM
}

ha_cleanup() {
  local rc=$?
  set +e
  if [ -n "${HA_KEEP_LOGS:-}" ] || [ "$rc" -ne 0 ]; then
    for f in "$HA_DIR"/logs/*.log; do
      [ -s "$f" ] || continue
      echo "----- $(basename "$f") (last 20 lines)" >&2
      tail -n 20 "$f" >&2
    done
  fi
  local p
  for p in "$HA_DIR"/pids/*; do
    [ -f "$p" ] && kill -CONT "$(cat "$p")" 2>/dev/null && kill "$(cat "$p")" 2>/dev/null
  done
  sleep 0.3
  for p in "$HA_DIR"/pids/*; do
    [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
  done
  wait 2>/dev/null
  rm -rf "$HA_DIR"
  exit $rc
}

ha_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

ha_spawn() {  # NAME CMD...: runs CMD in the background, records its pid under NAME
  local name=$1
  shift
  "$@" >>"$HA_DIR/logs/$name.log" 2>&1 &
  echo $! >"$HA_DIR/pids/$name"
}

ha_pid() { cat "$HA_DIR/pids/$1"; }

ha_now_ms() { echo $(($(date +%s%N) / 1000000)); }

ha_wait() {  # MS DESCRIPTION CMD...
  local ms=$1 what=$2
  shift 2
  local deadline=$(($(ha_now_ms) + ms))
  until "$@" >/dev/null 2>&1; do
    [ "$(ha_now_ms)" -lt $deadline ] || ha_die "not within $ms ms: $what"
    sleep 0.05
  done
}

ha_etcd_cluster() {
  local n=$1 i cluster="" urls=""
  HA_ETCD_N=$n
  for i in $(seq "$n"); do
    eval "HA_ETCD_CLIENT_$i=$(ha_free_port)"
    eval "HA_ETCD_PEER_$i=$(ha_free_port)"
    local peer
    eval "peer=\$HA_ETCD_PEER_$i"
    cluster="${cluster:+$cluster,}e$i=http://127.0.0.1:$peer"
  done
  for i in $(seq "$n"); do
    local client peer
    eval "client=\$HA_ETCD_CLIENT_$i; peer=\$HA_ETCD_PEER_$i"
    urls="${urls:+$urls,}http://127.0.0.1:$client"
    ha_spawn "etcd$i" etcd --name "e$i" --data-dir "$HA_DIR/etcd$i" \
      --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "$cluster" --initial-cluster-state new \
      --heartbeat-interval 50 --election-timeout 500 --log-level error --logger zap
  done
  HA_ETCD_URLS=$urls
  ha_wait 20000 "etcd cluster healthy" etcdctl --endpoints "$urls" endpoint health
}

ha_etcd_leader() {
  local i client
  for i in $(seq "$HA_ETCD_N"); do
    [ -f "$HA_DIR/pids/etcd$i" ] || continue
    eval "client=\$HA_ETCD_CLIENT_$i"
    if ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:$client" endpoint status -w json \
      2>/dev/null | python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; sys.exit(0 if s["leader"]==s["header"]["member_id"] else 1)'; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

ha_etcd_kill() {
  kill -9 "$(ha_pid "etcd$1")"
  wait "$(ha_pid "etcd$1")" 2>/dev/null
  rm -f "$HA_DIR/pids/etcd$1"
}

ha_controller_start() {  # I POLICY_DIR [ARGS...]
  local i=$1 policy=$2
  shift 2
  local port
  eval "port=\${HA_CTL_PORT_$i:-}"
  if [ -z "$port" ]; then
    port=$(ha_free_port)
    eval "HA_CTL_PORT_$i=$port"
  fi
  ha_spawn "controller$i" env TMPDIR="$HA_DIR" "$POLDER_CONTROLLER" --policy "$policy" --listen "127.0.0.1:$port" \
    --insecure --store "etcd:$HA_ETCD_URLS" --traffic-db "$HA_DIR/traffic$i.db" "$@"
  ha_wait 20000 "controller $i answers" "$POLDER" status --controller "127.0.0.1:$port" --insecure
}

ha_controller_addr() {
  local port
  eval "port=\$HA_CTL_PORT_$1"
  echo "127.0.0.1:$port"
}

ha_controller_kill() {
  local pid
  pid=$(ha_pid "controller$1")
  kill "-${2:-KILL}" "$pid"
  wait "$pid" 2>/dev/null
  rm -f "$HA_DIR/pids/controller$1"
}

ha_status() {
  "$POLDER" status --controller "$(ha_controller_addr "$1")" --insecure --format json
}

ha_json() {  # EXPR: evaluates EXPR (Python, `j` the parsed JSON on stdin)
  python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}
