#!/usr/bin/env bash
# End-to-end fleet test: polder-controller and one polder-agent per host of a policy, each in its
# own network namespace on a bridge, talking mutual TLS, with real packets probed against the
# compiler's verdicts. One scenario per run:
#
#   converge           every agent applies, status shows applied == desired, probes agree
#   edit               a policy edit reaches every agent within seconds, probes agree
#   tamper             drift shows in status within 1 s; with remediation it is restored
#   controller-restart killing the controller changes nothing; agents reconnect, no gap
#   refused            no certificate, wrong CA, expired, another host's certificate
#   commit-confirmed   a ruleset that cuts agents off from the controller is rolled back
#   quarantine         a quarantined zone is cut off within 1 s except from allowed zones
#   posture            a posture (spec §6a) is switched on within 1 s: cut pairs closed, allowed
#                      ones kept; a broken one and a second one are refused; it survives a
#                      controller restart; released, the normal table comes back
#   certificates       a renewed certificate is used from the agent's next connection; a revoked
#                      agent is cut within 10 s and stays out; a revoked admin is refused
#
# Usage: fleet_e2e.sh SCENARIO POLDER POLDER_CONTROLLER POLDER_AGENT [POLICY_DIR]
# Needs root; touches only namespaces named pt-<pid>-*.
set -euo pipefail
scenario=$1
export POLDER=$2 POLDER_CONTROLLER=$3 POLDER_AGENT=$4
policy_src=${5:-$(cd "$(dirname "$0")/../.." && pwd)/policies/municipality}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }

fleet_init "pt-$$-"
cp -r "$policy_src" "$FLEET_DIR/policy"
fleet_network "$FLEET_DIR/policy"
fleet_pki
fleet_controller_start

ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

up() {  # agents everywhere, converged
  fleet_agents_start "$@"
  fleet_wait_converged 20 || fleet_die "agents did not converge within 20 s"
  fleet_log "converged: $(fleet_hosts | wc -l) agents"
}

probe_ok() {  # WHEN: every probe agrees with the policy; the table is left in $FLEET_DIR/probe.txt
  fleet_probe >"$FLEET_DIR/probe.txt" || { cat "$FLEET_DIR/probe.txt" >&2; fleet_die "probes disagree with the policy ($1)"; }
  fleet_log "probes agree with the policy ($1): $(head -1 "$FLEET_DIR/probe.txt")"
}

host_json() {  # HOST FIELD: one field of one host from polder status
  fleet_status | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hosts"]:
    if h["host"] == sys.argv[1]:
        v = h[sys.argv[2]]
        print(str(v).lower() if isinstance(v, bool) else v)
' "$1" "$2"
}

host_is() { [ "$(host_json "$1" "$2")" = "$3" ]; }
table_is() { [ "$(fleet_table "$1")" = "$2" ]; }
tcp_closed() { ! fleet_tcp_open "$@"; }

wait_for() {  # MILLISECONDS DESCRIPTION COMMAND...: polls COMMAND every 20 ms
  local limit=$1 what=$2
  shift 2
  local t0
  t0=$(date +%s%N)
  while [ "$(ms_since "$t0")" -le "$limit" ]; do
    if "$@" >/dev/null 2>&1; then
      fleet_log "$what after $(ms_since "$t0") ms"
      return 0
    fi
    sleep 0.02
  done
  fleet_die "$what: not within $limit ms"
}

case $scenario in
converge)
  up
  fleet_status | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert len(s["hosts"]) == int(sys.argv[1]), s
for h in s["hosts"]:
    assert h["connected"] and not h["drift"], h
    assert h["applied_revision"] == h["desired_revision"] == s["revision"], h
' "$(fleet_hosts | wc -l)"
  # Every agent enforces exactly what `polder compile` makes for its host.
  for h in $(fleet_hosts); do
    diff <(fleet_table "$h") <(
      ns=pt-$$-check
      "$POLDER" compile "$FLEET_DIR/policy" --host "$h" >"$FLEET_DIR/expected.nft"
      ip netns add "$ns" && ip netns exec "$ns" nft -f "$FLEET_DIR/expected.nft" &&
        ip netns exec "$ns" nft -s list table inet polder
      ip netns del "$ns"
    ) >/dev/null || fleet_die "$h's table is not what polder compile gives"
    # The controller sends the structured form: applied through libnftnl, not nft's parser.
    grep -q '"event":"applied".*"via":"libnftnl"' "$FLEET_DIR/logs/agent-$h.log" ||
      fleet_die "$h did not apply its assignment through libnftnl: $(grep '"event":"applied"' "$FLEET_DIR/logs/agent-$h.log")"
  done
  probe_ok "after convergence"
  # The zones without hosts take part through stand-ins: citizens reach the portal, and the
  # controller host is probed with its controller answering on its port.
  grep -Eq '^  internet [0-9.]+ -> portal-1 10\.10\.1\.10: .*tcp/443' "$FLEET_DIR/probe.txt" ||
    fleet_die "no probe from the internet stand-in reached the portal"
  grep -Eq '^  app-1 [0-9.]+ -> controller-1 10\.10\.0\.2: .*tcp/7443' "$FLEET_DIR/probe.txt" ||
    fleet_die "anti-lockout to the controller was not probed"
  ;;

edit)
  up
  old=$(fleet_revision)
  # Open postgres to the bastion as well: db-1 and bastion-1 rulesets change.
  cat >>"$FLEET_DIR/policy/flows/operations.yaml" <<'YAML'
  - name: dba-console
    from: mgmt
    to: db
    services: postgres
YAML
  t0=$(date +%s%N)
  fleet_wait_converged 10 "$old" || fleet_die "edit not rolled out within 10 s"
  fleet_log "new revision applied by every agent $(ms_since "$t0") ms after the edit"
  fleet_listen db-1 5432
  fleet_tcp_open bastion-1 "$(fleet_addr db-1)" 5432 || fleet_die "bastion cannot reach postgres after the edit"
  fleet_stop listen-db-1  # the probe brings its own listeners
  probe_ok "after the edit"
  ;;

tamper)
  up
  fleet_stop agent-log-1
  rm -f "$FLEET_DIR/logs/agent-log-1.log"
  fleet_agent_start log-1 --no-remediate
  wait_for 10000 "log-1 reconnected without remediation" \
    grep -q '"event":"connected"' "$FLEET_DIR/logs/agent-log-1.log"
  wait_for 2000 "controller sees log-1" host_is log-1 connected true
  before=$(fleet_table db-1)
  t0=$(date +%s%N)
  fleet_nft db-1 add rule inet polder input accept
  wait_for 1000 "db-1 drift (remediated) seen by the controller" \
    grep -q "drift on db-1 (remediated)" "$FLEET_DIR/logs/controller.log"
  wait_for 1000 "db-1 table restored" table_is db-1 "$before"
  [ "$(host_json db-1 drift)" = false ] || fleet_die "db-1 still shows drift after restoring"
  fleet_nft log-1 add rule inet polder input accept
  wait_for 1000 "log-1 drift visible in polder status" host_is log-1 drift true
  [ "$(fleet_table log-1 | grep -c '^\s*accept$')" -ge 1 ] || fleet_die "log-1 (no remediation) restored the table anyway"
  ;;

controller-restart)
  up
  declare -A tables
  for h in $(fleet_hosts); do tables[$h]=$(fleet_table "$h"); done
  # Bastion to db-1 ssh is allowed; a ping stream across the restart must lose nothing.
  fleet_spawn ping-bastion "$(fleet_ns bastion-1)" ping -i 0.05 -c 200 -W 1 "$(fleet_addr db-1)"
  applied_before=$(cat "$FLEET_DIR"/logs/agent-*.log | grep -c '"event":"applied"' || true)
  sleep 0.5
  fleet_stop controller KILL
  fleet_log "controller killed"
  sleep 3
  for h in $(fleet_hosts); do
    [ "$(fleet_table "$h")" = "${tables[$h]}" ] || fleet_die "$h's table changed without a controller"
  done
  probe_ok "controller down"
  fleet_controller_start
  t0=$(date +%s%N)
  fleet_wait_converged 15 || fleet_die "agents did not reconnect within 15 s"
  fleet_log "all agents reconnected $(ms_since "$t0") ms after the restart"
  pid=$(cat "$FLEET_DIR/pids/ping-bastion")
  for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  grep -q ' 0% packet loss' "$FLEET_DIR/logs/ping-bastion.log" ||
    fleet_die "pings were lost across the restart: $(grep loss "$FLEET_DIR/logs/ping-bastion.log")"
  applied_after=$(cat "$FLEET_DIR"/logs/agent-*.log | grep -c '"event":"applied"' || true)
  [ "$applied_before" = "$applied_after" ] || fleet_die "agents re-applied rulesets after reconnecting"
  for h in $(fleet_hosts); do
    [ "$(fleet_table "$h")" = "${tables[$h]}" ] || fleet_die "$h's table changed across the restart"
  done
  ;;

refused)
  pki=$FLEET_DIR/pki
  bad=$FLEET_DIR/bad
  mkdir -p "$bad/nocert" "$bad/wrongca" "$bad/expired"
  # (1) no certificate at all: the agent refuses to start without one.
  cp "$pki/ca.crt" "$bad/nocert/"
  if ip netns exec "$(fleet_ns db-1)" "$POLDER_AGENT" --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
    --host db-1 --tls-dir "$bad/nocert" --state-dir "$FLEET_DIR/state/x" >"$FLEET_DIR/logs/nocert.log" 2>&1; then
    fleet_die "agent started without a certificate"
  fi
  grep -q "credentials" "$FLEET_DIR/logs/nocert.log" || fleet_die "no clear message without a certificate"
  # ... and a client speaking without TLS gets nowhere with the controller.
  fleet_spawn agent-db-1 "$(fleet_ns db-1)" "$POLDER_AGENT" --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
    --host db-1 --insecure --state-dir "$FLEET_DIR/state/db-1"
  # (2) a certificate from another CA (with the right CA to check the controller).
  "$POLDER" pki init "$bad/otherca" >/dev/null
  "$POLDER" pki issue "$bad/otherca" --host app-1 >/dev/null
  cp "$bad/otherca/agents/app-1/agent.crt" "$bad/otherca/agents/app-1/agent.key" "$bad/wrongca/"
  cp "$pki/ca.crt" "$bad/wrongca/"
  fleet_spawn agent-app-1 "$(fleet_ns app-1)" "$POLDER_AGENT" --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
    --host app-1 --tls-dir "$bad/wrongca" --state-dir "$FLEET_DIR/state/app-1"
  # (3) an expired certificate signed by the right CA.
  expired=no
  if (cd "$bad/expired" &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout agent.key \
      -subj "/OU=polder-agent/CN=portal-1" -out agent.csr 2>/dev/null &&
    printf '[ca]\ndefault_ca=c\n[c]\ndatabase=index\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\nOU=supplied\nCN=supplied\n[x]\nsubjectAltName=DNS:portal-1\nextendedKeyUsage=clientAuth\n' >ca.cnf &&
    : >index && echo 1000 >serial &&
    openssl ca -batch -config ca.cnf -cert "$pki/ca.crt" -keyfile "$pki/ca/ca.key" -in agent.csr \
      -out agent.crt -startdate 20200101000000Z -enddate 20200102000000Z -extfile ca.cnf \
      -extensions x -notext >/dev/null 2>&1 && cp "$pki/ca.crt" .); then
    expired=yes
    fleet_spawn agent-portal-1 "$(fleet_ns portal-1)" "$POLDER_AGENT" --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
      --host portal-1 --tls-dir "$bad/expired" --state-dir "$FLEET_DIR/state/portal-1"
  else
    fleet_log "SKIP expired certificate: openssl could not make one"
  fi
  # (4) another host's certificate: backup-1 presenting log-1's.
  fleet_spawn agent-backup-1 "$(fleet_ns backup-1)" "$POLDER_AGENT" --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
    --host backup-1 --tls-dir "$pki/agents/log-1" --state-dir "$FLEET_DIR/state/backup-1"
  # A good agent alongside shows the controller is serving.
  fleet_agent_start bastion-1
  FLEET_WAIT_HOSTS=bastion-1 fleet_wait_converged 10 || fleet_die "the good agent did not converge"
  refused="db-1 app-1 backup-1"
  [ $expired = yes ] && refused="$refused portal-1"
  # Each refused agent must have tried and failed at least twice (two backoffs logged) before
  # its state is judged, so a late success cannot hide behind a fixed sleep.
  for h in $refused; do
    for _ in $(seq 200); do
      [ "$(grep -c '"event":"reconnect"' "$FLEET_DIR/logs/agent-$h.log" 2>/dev/null)" -ge 2 ] && break
      sleep 0.1
    done
    [ "$(grep -c '"event":"reconnect"' "$FLEET_DIR/logs/agent-$h.log")" -ge 2 ] ||
      fleet_die "agent $h did not retry twice within 20 s: $(tail -3 "$FLEET_DIR/logs/agent-$h.log")"
  done
  for h in $refused; do
    [ "$(host_json "$h" connected)" = false ] || fleet_die "$h connected with a bad identity"
    if fleet_nft "$h" list table inet polder >/dev/null 2>&1; then
      fleet_die "$h got a ruleset with a bad identity"
    fi
    kill -0 "$(cat "$FLEET_DIR/pids/agent-$h")" || fleet_die "agent $h died instead of retrying"
  done
  grep -q "refused" "$FLEET_DIR/logs/agent-backup-1.log" || fleet_die "backup-1's agent was not told why"
  grep -qi "WARNING: --insecure" "$FLEET_DIR/logs/agent-db-1.log" || fleet_die "--insecure gave no warning"
  fleet_log "refused: $refused"
  ;;

commit-confirmed)
  up
  declare -A tables
  for h in $(fleet_hosts); do tables[$h]=$(fleet_table "$h"); done
  old=$(fleet_revision)
  # The controller keeps listening on its port, but the policy now says it is elsewhere: every
  # agent's new ruleset stops new connections to it.
  sed -i "s/port: $FLEET_CTRL_PORT/port: $((FLEET_CTRL_PORT + 1))/" "$FLEET_DIR/policy/settings.yaml"
  others=$(fleet_hosts | grep -vx "$FLEET_CTRL_HOST")
  new=""
  for _ in $(seq 100); do
    new=$(fleet_revision)
    [ "$new" != "$old" ] && break
    sleep 0.1
  done
  [ "$new" != "$old" ] || fleet_die "the controller did not serve the edited policy"
  for h in $others; do
    wait_for 10000 "$h applied the cutting ruleset" \
      grep -q "\"event\":\"applied\".*\"revision\":\"$new\"" "$FLEET_DIR/logs/agent-$h.log"
  done
  for h in $others; do
    wait_for 45000 "$h rolled back" grep -q '"event":"rolled-back"' "$FLEET_DIR/logs/agent-$h.log"
  done
  for h in $others; do
    [ "$(fleet_table "$h")" = "${tables[$h]}" ] || fleet_die "$h is not back on its previous ruleset"
  done
  wait_for 5000 "the controller heard of the rollbacks" \
    grep -q "apply failed on app-1: rolled back: " "$FLEET_DIR/logs/controller.log"
  # The controller's own host reaches it over loopback, so it keeps the new ruleset; revert
  # the policy so the rest can reconnect freshly.
  sed -i "s/port: $((FLEET_CTRL_PORT + 1))/port: $FLEET_CTRL_PORT/" "$FLEET_DIR/policy/settings.yaml"
  fleet_wait_converged 15 || fleet_die "fleet did not recover after reverting the policy"
  ;;

quarantine)
  up
  fleet_listen db-1 5432 22
  db=$(fleet_addr db-1)
  fleet_tcp_open app-1 "$db" 5432 || fleet_die "app-1 cannot reach postgres before the quarantine"
  fleet_tcp_open bastion-1 "$db" 22 || fleet_die "bastion cannot reach db-1 ssh before the quarantine"
  old=$(fleet_revision)
  t0=$(date +%s%N)
  fleet_admin quarantine db --allow mgmt --reason "fleet e2e test" >/dev/null
  wait_for 1000 "app-1 -> db-1 postgres blocked" tcp_closed app-1 "$db" 5432
  fleet_tcp_open bastion-1 "$db" 22 || fleet_die "quarantine cut off the allowed zone mgmt"
  fleet_wait_converged 5 "$old" || fleet_die "quarantine revision not applied everywhere"
  fleet_log "quarantine applied by every agent $(ms_since "$t0") ms after the order"
  fleet_status | python3 -c '
import json, sys
s = json.load(sys.stdin)
assert any(h["quarantined"] for h in s["hosts"] if h["host"] == "db-1"), s' || fleet_die "status does not show the quarantine"
  fleet_admin release db >/dev/null
  wait_for 1000 "app-1 -> db-1 postgres restored" fleet_tcp_open app-1 "$db" 5432
  fleet_stop listen-db-1
  probe_ok "after release"
  ;;

posture)
  # A crisis plan for the copied policy: app goes dark except for mgmt's ssh and the backup;
  # `app-open-to-office` promises what its own allow list cuts, so check finds it broken.
  cat >"$FLEET_DIR/policy/postures.yaml" <<'YAML'
postures:
  - name: app-lockdown
    isolate: [app]
    allow:
      - { zone: mgmt, services: [ssh] }
      - { zone: backup }
    keep:
      - reach: { from: backup, to: app, services: [backup-agent], direct: true }
    owner: ciso
    reason: fleet e2e test
  - name: app-open-to-office
    isolate: [app]
    allow:
      - { zone: mgmt }
    keep:
      - reach: { from: office, to: app, services: [https], direct: true }
YAML
  fleet_stop controller
  fleet_controller_start
  up
  fleet_listen app-1 443 8443 22 9102
  fleet_listen db-1 5432
  app=$(fleet_addr app-1)
  db=$(fleet_addr db-1)
  fleet_tcp_open office-ws-1 "$app" 443 || fleet_die "office cannot reach app-1 https before the posture"
  fleet_tcp_open app-1 "$db" 5432 || fleet_die "app-1 cannot reach postgres before the posture"
  fleet_tcp_open bastion-1 "$app" 22 || fleet_die "bastion cannot reach app-1 ssh before the posture"
  fleet_tcp_open backup-1 "$app" 9102 || fleet_die "backup cannot reach app-1 before the posture"
  posture_is() {  # NAME|null: polder status --format json shows it
    [ "$(fleet_status | python3 -c 'import json,sys; print(json.load(sys.stdin)["posture"] or "null")')" = "$1" ]
  }
  posture_is null || fleet_die "status shows a posture before any was activated"

  # check finds app-open-to-office broken: refused (exit 1) and nothing changes.
  if fleet_admin posture activate app-open-to-office --reason "should be refused" 2>"$FLEET_DIR/refused.txt"; then
    fleet_die "a broken posture was activated without --force"
  fi
  grep -q -- "--force" "$FLEET_DIR/refused.txt" || fleet_die "refusal does not say how to override: $(cat "$FLEET_DIR/refused.txt")"
  posture_is null || fleet_die "a refused posture shows in status"

  old=$(fleet_revision)
  t0=$(date +%s%N)
  fleet_admin posture activate app-lockdown --reason "fleet e2e test" >/dev/null
  wait_for 1000 "office -> app-1 https cut" tcp_closed office-ws-1 "$app" 443
  wait_for 1000 "app-1 -> db-1 postgres cut" tcp_closed app-1 "$db" 5432
  fleet_tcp_open bastion-1 "$app" 22 || fleet_die "the posture cut mgmt's ssh, which its allow list keeps"
  fleet_tcp_open backup-1 "$app" 9102 || fleet_die "the posture cut the backup, which its allow list keeps"
  tcp_closed bastion-1 "$app" 8443 || fleet_die "mgmt reaches app-1 on 8443, which the policy never allowed"
  fleet_wait_converged 5 "$old" || fleet_die "posture revision not applied everywhere"
  fleet_log "posture applied by every agent $(ms_since "$t0") ms after the order"
  posture_is app-lockdown || fleet_die "status does not show the active posture"
  fleet_admin status | grep -q "posture app-lockdown active" || fleet_die "text status does not show the posture"

  # At most one posture at a time, and it survives a controller restart.
  if fleet_admin posture activate app-open-to-office --force --reason "second" 2>/dev/null; then
    fleet_die "a second posture was activated while one is active"
  fi
  fleet_stop controller
  fleet_controller_start
  posture_is app-lockdown || fleet_die "the posture did not survive a controller restart"
  fleet_wait_converged 20 || fleet_die "agents did not reconverge after the controller restart"
  tcp_closed office-ws-1 "$app" 443 || fleet_die "office reaches app-1 after the controller restart"

  fleet_admin posture release app-lockdown >/dev/null
  wait_for 1000 "office -> app-1 https restored" fleet_tcp_open office-ws-1 "$app" 443
  wait_for 1000 "app-1 -> db-1 postgres restored" fleet_tcp_open app-1 "$db" 5432
  posture_is null || fleet_die "status still shows a posture after the release"
  if fleet_admin posture release app-lockdown 2>/dev/null; then
    fleet_die "releasing a posture that is not active succeeded"
  fi
  fleet_wait_converged 5 || fleet_die "release not applied everywhere"
  fleet_stop listen-app-1
  fleet_stop listen-db-1
  probe_ok "after release"
  ;;

certificates)
  # Renewal and revocation with the real binaries and no agent or controller restart for them.
  up
  pki=$FLEET_DIR/pki
  old=$(host_json db-1 cert_expires)
  [ -n "$old" ] && [ "$old" != None ] || fleet_die "status shows no cert_expires for db-1"
  # Renewed with a new key while db-1's agent runs; its next connection presents the new files.
  "$POLDER" pki renew "$pki" --host db-1 --new-key >/dev/null || fleet_die "pki renew"
  fleet_stop controller
  fleet_controller_start
  fleet_wait_converged 20 || fleet_die "agents did not reconnect after the renewal"
  new=$(host_json db-1 cert_expires)
  [ "$new" != "$old" ] || fleet_die "db-1 still connects with its old certificate ($old)"
  fleet_log "db-1 reconnected with its renewed certificate (expires $new, was $old)"
  # Revoked: the open stream is cut within 10 s, without restarting the controller.
  t0=$(date +%s%N)
  "$POLDER" pki revoke "$pki" --host db-1 >/dev/null || fleet_die "pki revoke"
  for _ in $(seq 100); do host_is db-1 connected false && break; sleep 0.1; done
  host_is db-1 connected false || fleet_die "db-1 still connected 10 s after its revocation"
  fleet_log "db-1 cut $(ms_since "$t0") ms after pki revoke"
  # ... and cannot come back: two more refused attempts, still not connected, still enforcing.
  n=$(grep -c '"event":"reconnect"' "$FLEET_DIR/logs/agent-db-1.log" || true)
  for _ in $(seq 200); do
    [ "$(grep -c '"event":"reconnect"' "$FLEET_DIR/logs/agent-db-1.log")" -ge $((n + 2)) ] && break
    sleep 0.1
  done
  [ "$(grep -c '"event":"reconnect"' "$FLEET_DIR/logs/agent-db-1.log")" -ge $((n + 2)) ] ||
    fleet_die "db-1's agent did not retry twice within 20 s"
  host_is db-1 connected false || fleet_die "db-1 reconnected with a revoked certificate"
  fleet_table db-1 >/dev/null || fleet_die "db-1 stopped enforcing when its certificate was revoked"
  grep -q "revoked" "$FLEET_DIR/logs/controller.log" || fleet_die "the controller did not say why"
  # A revoked admin certificate is refused; another admin's still works.
  "$POLDER" pki issue "$pki" --admin eve >/dev/null || fleet_die "pki issue --admin eve"
  eve() {
    ip netns exec "$FLEET_CTRL_NS" "$POLDER" status --controller "$FLEET_CTRL_ADDR:$FLEET_CTRL_PORT" \
      --tls-dir "$pki/admins/eve" --format json >/dev/null 2>"$FLEET_DIR/logs/eve.err"
  }
  eve || fleet_die "a fresh admin certificate is refused: $(cat "$FLEET_DIR/logs/eve.err")"
  reloads=$(grep -c "CRL reloaded" "$FLEET_DIR/logs/controller.log" || true)
  "$POLDER" pki revoke "$pki" --admin eve >/dev/null || fleet_die "pki revoke --admin"
  for _ in $(seq 100); do
    [ "$(grep -c "CRL reloaded" "$FLEET_DIR/logs/controller.log")" -gt "$reloads" ] && break
    sleep 0.1
  done
  [ "$(grep -c "CRL reloaded" "$FLEET_DIR/logs/controller.log")" -gt "$reloads" ] ||
    fleet_die "the controller did not reload the CRL within 10 s"
  if eve; then fleet_die "a revoked admin certificate was let in"; fi
  # Refused for being revoked, not for any failure (a timeout, a TLS error).
  grep -qi "revoked" "$FLEET_DIR/logs/eve.err" ||
    fleet_die "the revoked admin was refused, but not as revoked: $(cat "$FLEET_DIR/logs/eve.err")"
  fleet_status >/dev/null || fleet_die "the other admin is refused too"
  fleet_log "revoked admin refused: $(head -1 "$FLEET_DIR/logs/eve.err")"
  ;;

*)
  fleet_die "unknown scenario $scenario"
  ;;
esac
fleet_log "PASS $scenario"
