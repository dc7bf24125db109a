#!/usr/bin/env bash
# Observed traffic on several controllers (issue 12 with issue 11): 3 etcd members and 2
# controllers in the controller host's namespace (10.10.0.2-3:7443, mutual TLS), real agents on
# bastion-1 and backup-1 (--traffic-interval 1s) that fail over between them. Each controller
# stores the traffic of the agents it serves in its own database; `polder traffic` gives the
# fleet's answer from either:
#   1. N allowed connections bastion-1 -> backup-1:22: both controllers' answers count exactly N;
#   2. SIGKILL the controller serving backup-1, M more connections: the survivor's answer names
#      the dead controller as missing (never a silent short count), and `unused` says unknown;
#   3. the dead controller back: both answers count exactly N + M and nothing is missing. A
#      batch the dead controller stored but did not acknowledge reaches the survivor again; the
#      fleet's high-water mark in etcd keeps it from being counted twice (when the kill hits
#      one; the loopback test AResendToAnotherControllerIsCountedOnceInTheFleet always does).
# Usage: traffic_e2e.sh POLDER POLDER_CONTROLLER POLDER_AGENT POLICY_DIR
# Needs root and etcd; touches only namespaces named pt-<pid>-*.
set -euo pipefail
export POLDER=$1 POLDER_CONTROLLER=$2 POLDER_AGENT=$3
policy_src=$4
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../fleet/lib.sh
. "$here/../fleet/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v etcd >/dev/null || { echo "SKIP: etcd not installed (etcd-server)"; exit 77; }

ms_now() { echo $(($(date +%s%N) / 1000000)); }
wait_for() {  # MS DESCRIPTION CMD...
  local ms=$1 what=$2
  shift 2
  local end=$(($(ms_now) + ms))
  until "$@" >/dev/null 2>&1; do
    [ "$(ms_now)" -lt $end ] || fleet_die "not within $ms ms: $what"
    sleep 0.1
  done
}

fleet_init "pt-$$-"
cp -r "$policy_src" "$FLEET_DIR/policy"
ADDRS=(10.10.0.2 10.10.0.3)
sed -i 's|addresses: \[10.10.0.2\], port: 7443|addresses: [10.10.0.2, 10.10.0.3], port: 7443|' \
  "$FLEET_DIR/policy/settings.yaml"
sed -i '0,/addresses: \[10.10.0.2\]/s||addresses: [10.10.0.2, 10.10.0.3]|' "$FLEET_DIR/policy/hosts.yaml"
fleet_network "$FLEET_DIR/policy"
pki="$FLEET_DIR/pki"
"$POLDER" pki init "$pki" --controller-address 10.10.0.2 --controller-address 10.10.0.3 >/dev/null ||
  fleet_die "pki init"
AGENT_HOSTS="bastion-1 backup-1"
for h in $AGENT_HOSTS; do "$POLDER" pki issue "$pki" --host "$h" >/dev/null || fleet_die "pki issue $h"; done
"$POLDER" pki issue "$pki" --admin ha-test >/dev/null || fleet_die "pki issue admin"
export HA_HOSTS=$AGENT_HOSTS

ip netns exec "$FLEET_CTRL_NS" ip link set lo up
cluster="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
ETCD_URLS="http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793"
for i in 1 2 3; do
  fleet_spawn "etcd$i" "$FLEET_CTRL_NS" etcd --name "e$i" --data-dir "$FLEET_DIR/state/etcd$i" \
    --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
    --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --heartbeat-interval 50 --election-timeout 500 --log-level error --logger zap
done
wait_for 20000 "etcd cluster healthy" ip netns exec "$FLEET_CTRL_NS" env ETCDCTL_API=3 etcdctl \
  --endpoints "$ETCD_URLS" endpoint health

ctl() { echo "${ADDRS[$(($1 - 1))]}:7443"; }
admin() {  # I CMD ARGS...: polder CMD as the admin against controller I
  local i=$1 cmd=$2
  shift 2
  ip netns exec "$FLEET_CTRL_NS" "$POLDER" "$cmd" --controller "$(ctl "$i")" \
    --tls-dir "$pki/admins/ha-test" "$@"
}
controller_start() {
  fleet_spawn "controller$1" "$FLEET_CTRL_NS" env TMPDIR="$FLEET_DIR/state" \
    "$POLDER_CONTROLLER" --policy "$FLEET_DIR/policy" \
    --listen "$(ctl "$1")" --tls-dir "$pki/controller" --store "etcd:$ETCD_URLS" \
    --traffic-db "$FLEET_DIR/state/traffic$1.db"
  wait_for 20000 "controller $1 answers" admin "$1" status
}
ALIVE="1 2"
statuses() {
  local i
  for i in $ALIVE; do
    admin "$i" status --format json >"$FLEET_DIR/status.$i.json" 2>/dev/null || rm -f "$FLEET_DIR/status.$i.json"
    echo "$FLEET_DIR/status.$i.json"
  done
}
view() { python3 "$here/view.py" "$@"; }
converged() { view converged "" $(statuses); }  # statuses read at each call
revision_of() { admin "$1" status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])'; }
applied_on_survivor() { view applied backup-1 "$(revision_of "$survivor")" $(statuses); }
for i in 1 2; do controller_start "$i"; done
for h in $AGENT_HOSTS; do
  fleet_spawn "agent-$h" "$(fleet_ns "$h")" "$POLDER_AGENT" --controller "$(ctl 1),$(ctl 2)" \
    --host "$h" --tls-dir "$pki/agents/$h" --state-dir "$FLEET_DIR/state/agent-$h" \
    --traffic-interval 1s
done
wait_for 60000 "both agents converged" converged

net_tool="$here/../agent/net_tool.py"
fleet_spawn listen-backup "$(fleet_ns backup-1)" python3 "$net_tool" listen 22
backup_addr=$(fleet_addr backup-1)
connect() {  # N: N allowed connections bastion-1 -> backup-1:22, each one must get through
  local k
  for k in $(seq "$1"); do
    ip netns exec "$(fleet_ns bastion-1)" python3 "$net_tool" probe "$backup_addr" 22 >/dev/null ||
      fleet_die "allowed connection $k to backup-1:22 failed"
  done
}
# counted I WANT [MISSING]: controller I's fleet answer counts WANT connections to backup-1:22
# seen by backup-1 from bastion-1, and its missing controllers are exactly MISSING (addresses,
# space-separated; "" for none).
counted() {
  admin "$1" traffic --policy "$FLEET_DIR/policy" --format json >"$FLEET_DIR/traffic.$1.json" \
    2>"$FLEET_DIR/traffic.$1.err" || return 1
  python3 - "$FLEET_DIR/traffic.$1.json" "$2" "${3:-}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
n = sum(r["connections"] for r in j["rows"]
        if r["host"] == "backup-1" and r["peer"] == "bastion-1" and r["port"] == 22
        and r["verdict"] == "allowed")
missing = sorted(m.split(" ")[0] for m in j["missing_controllers"])
want_missing = sorted(sys.argv[3].split())
sys.exit(0 if n == int(sys.argv[2]) and missing == want_missing else 1)
PY
}
explain() { cat "$FLEET_DIR/traffic.$1.json" "$FLEET_DIR/traffic.$1.err" 2>/dev/null | head -c 3000; }

N=5
M=3
connect $N
wait_for 20000 "controller 1 counts $N" counted 1 $N || true
counted 1 $N || fleet_die "controller 1: $(explain 1)"
counted 2 $N || fleet_die "controller 2 disagrees: $(explain 2)"
echo "PASS: both controllers' answers count exactly the $N connections"

victim=$(view where $(statuses) | awk '$1 == "backup-1" {print $2}')
[ -n "$victim" ] || fleet_die "backup-1 is on no controller"
survivor=$((3 - victim))
fleet_log "killing controller $victim ($(ctl "$victim")), which serves backup-1"
fleet_stop "controller$victim" KILL
ALIVE=$survivor
wait_for 30000 "backup-1 on controller $survivor" applied_on_survivor
connect $M
# What the survivor stored (the M, and whatever it had) is in its answer; the dead
# controller's part is said to be missing.
got_missing() {
  admin "$survivor" traffic --policy "$FLEET_DIR/policy" --format json \
    >"$FLEET_DIR/traffic.$survivor.json" 2>"$FLEET_DIR/traffic.$survivor.err" || return 1
  python3 - "$FLEET_DIR/traffic.$survivor.json" "$(ctl "$victim")" "$M" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
n = sum(r["connections"] for r in j["rows"]
        if r["host"] == "backup-1" and r["peer"] == "bastion-1" and r["port"] == 22
        and r["verdict"] == "allowed")
named = [m for m in j["missing_controllers"] if m.startswith(sys.argv[2])]
sys.exit(0 if named and n >= int(sys.argv[3]) else 1)
PY
}
wait_for 20000 "the survivor names controller $victim as missing" got_missing || true
got_missing || fleet_die "survivor: $(explain "$survivor")"
grep -q "warning: traffic of the agents a controller served is missing: $(ctl "$victim")" \
  <(admin "$survivor" traffic --policy "$FLEET_DIR/policy" 2>&1) ||
  fleet_die "the text output does not warn of the missing controller"
echo "PASS: with controller $victim dead, controller $survivor's answer names it as missing"

controller_start "$victim"
ALIVE="1 2"
wait_for 30000 "controller 1 counts $((N + M)), nothing missing" counted 1 $((N + M)) || true
counted 1 $((N + M)) || fleet_die "controller 1 after the restart: $(explain 1)"
counted 2 $((N + M)) || fleet_die "controller 2 after the restart: $(explain 2)"
# Exact over a few more collection intervals (resends and empty batches change nothing).
until_s=$((SECONDS + 3))
while [ $SECONDS -lt $until_s ]; do
  counted 1 $((N + M)) || fleet_die "controller 1 drifted: $(explain 1)"
  sleep 0.5
done
dups=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["duplicate_batches"])' "$FLEET_DIR/traffic.1.json")
echo "PASS: after the restart both answers count exactly $((N + M)) ($dups batches came twice and were counted once)"
