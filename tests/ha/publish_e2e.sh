#!/usr/bin/env bash
# Issue 12, step 1, end to end: 3 etcd members and 2 controllers on 127.0.0.1 (no namespaces,
# no agents). A controller started on an empty store publishes its --policy; one started on an
# "old checkout" adopts the store's bundle and warns; `polder publish` on one reaches the other;
# a policy that does not compile is refused and changes nothing; an edit of a controller's
# --policy while it runs is published and adopted by the other.
#
#   publish_e2e.sh POLDER POLDER_CONTROLLER POLICY_DIR
set -euo pipefail
POLDER=$1
POLDER_CONTROLLER=$2
POLICY=$3
command -v etcd >/dev/null || { echo "SKIP: etcd not installed (etcd-server)"; exit 77; }
. "$(dirname "$0")/lib.sh"
ha_init publish

cp -r "$POLICY" "$HA_DIR/a"
cp -r "$POLICY" "$HA_DIR/b"
sed -i 's|tcp/8443|tcp/8444|' "$HA_DIR/b/services.yaml"  # b: an older checkout
ha_etcd_cluster 3

ha_controller_start 1 "$HA_DIR/a"
rev_a=$(ha_status 1 | ha_json 'j["policy_revision"]')
[ -n "$rev_a" ] || ha_die "controller 1 adopted no bundle"
ha_log "controller 1 published its directory on the empty store: $rev_a"

ha_controller_start 2 "$HA_DIR/b"
[ "$(ha_status 2 | ha_json 'j["policy_revision"]')" = "$rev_a" ] ||
  ha_die "controller 2 serves its own directory, not the store's bundle"
grep -q "WARNING: --policy $HA_DIR/b (revision [0-9a-f]*) differs from the store's desired policy: revision $rev_a" \
  "$HA_DIR/logs/controller2.log" || ha_die "controller 2 did not warn about its old checkout"
[ "$(ha_status 1 | ha_json 'j["policy_revision"]')" = "$rev_a" ] || ha_die "the fleet was rolled back"
ha_log "controller 2 (old checkout) adopted $rev_a and warned"
members() {  # I: "ADDR[*] ADDR[*]" as controller I names the live controllers (* the leader)
  ha_status "$1" | ha_json '" ".join(sorted(c["address"] + ("*" if c["leader"] else "") for c in j["controllers"]))'
}
# Sorted as members() sorts: the ports are random, so the order is too.
want=$(python3 -c 'import sys; print(" ".join(sorted(sys.argv[1:])))' "$(ha_controller_addr 1)*" "$(ha_controller_addr 2)")
[ "$(members 1)" = "$want" ] && [ "$(members 2)" = "$want" ] ||
  ha_die "controllers disagree on members: '$(members 1)' / '$(members 2)', want '$want'"

# polder publish on controller 1 reaches controller 2.
cp -r "$POLICY" "$HA_DIR/c"
sed -i 's|tcp/8443|tcp/8445|' "$HA_DIR/c/services.yaml"
out=$("$POLDER" publish --controller "$(ha_controller_addr 1)" --insecure "$HA_DIR/c" --reason "change 7")
ha_log "$out"
rev_c=$(echo "$out" | sed -n 's/^published revision \([0-9a-f]*\) (was \([0-9a-f]*\)).*/\1/p')
[ -n "$rev_c" ] && [ "$rev_c" != "$rev_a" ] || ha_die "unexpected publish output: $out"
policy_is() { [ "$(ha_status "$1" | ha_json 'j["policy_revision"]')" = "$2" ]; }
t0=$(date +%s%N)
ha_wait 5000 "controller 2 adopts the published revision" policy_is 2 "$rev_c"
ha_log "controller 2 adopted it in $((($(date +%s%N) - t0) / 1000000)) ms"
again=$("$POLDER" publish --controller "$(ha_controller_addr 2)" --insecure "$HA_DIR/c")
echo "$again" | grep -q "^unchanged: " || ha_die "republishing the same files wrote: $again"
"$POLDER" audit --controller "$(ha_controller_addr 2)" --insecure --format json |
  ha_json 'sum(1 for e in j["entries"] if e["kind"] == "publish" and e["reason"] == "change 7")' |
  grep -qx 1 || ha_die "the publish is not audited exactly once (as read from controller 2)"

# A policy that does not compile is refused, with the compiler's diagnostics; nothing changes.
cp -r "$HA_DIR/c" "$HA_DIR/broken"
printf '  - from: nowhere\n    to: app\n    services: [https]\n' >>"$HA_DIR/broken/flows/public.yaml"
set +e
refused=$("$POLDER" publish --controller "$(ha_controller_addr 2)" --insecure "$HA_DIR/broken" 2>&1)
rc=$?
set -e
[ "$rc" = 1 ] || ha_die "a broken policy: exit $rc ($refused)"
echo "$refused" | grep -q "nowhere" || ha_die "the refusal does not name the error: $refused"
policy_is 1 "$rev_c" && policy_is 2 "$rev_c" || ha_die "a refused publish changed the policy"
ha_log "a policy that does not compile was refused: $(echo "$refused" | head -n 1)"

# Editing controller 2's --policy while it runs publishes it; controller 1 adopts it.
sed -i 's|tcp/8444|tcp/8446|' "$HA_DIR/b/services.yaml"
ha_wait 10000 "controller 2 publishes its edited directory" \
  grep -q "published revision .* (policy directory changed)" "$HA_DIR/logs/controller2.log"
rev_b=$(ha_status 2 | ha_json 'j["policy_revision"]')
[ "$rev_b" != "$rev_c" ] || ha_die "controller 2 did not move to its edited directory"
ha_wait 5000 "controller 1 adopts controller 2's edit" policy_is 1 "$rev_b"
ha_log "PASS"
