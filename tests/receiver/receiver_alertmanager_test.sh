#!/usr/bin/env bash
# Live: real Alertmanagers (Debian's prometheus-alertmanager 0.25) deliver to a
# real saslguard-receiver on 127.0.0.1.
#   1. One Alertmanager: an alert added with amtool becomes one incident with
#      one action request per policy.auto_actions kind; a redelivery of the same
#      payload (what a retry or repeat_interval sends) changes nothing; the
#      resolution closes the incident.
#   2. Two Alertmanagers clustered with each other (gossip on 127.0.0.1), the
#      alert added to both as Prometheus does, repeat_interval 2s: one incident,
#      one action per kind, however many deliveries arrive from either peer.
# Prometheus is not running: the culprit comes from the sasl_username label.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/alertmanager.sh
. "$here/../lib/alertmanager.sh"
# shellcheck source=receiver_lib.sh
. "$here/receiver_lib.sh"

[ -x "$RCV_BIN" ] || fail "no receiver at $RCV_BIN: build the saslguard-receiver target first"
work=$(make_workdir rcv-am)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"

# Prometheus is down; the exporter has counted both users' messages (unknown
# evidence never acts automatically). No Postfix queue here to corroborate the
# log: min_queued_messages 0 (receiver_forged_log tests corroboration).
rcv_exporter "$work/exporter" alice@saslguard.test bob@saslguard.test
rcv_create "$work/rcv" "prometheus:
  url: http://127.0.0.1:1
  timeout: 1s
  exporter_url: $RCV_EXPORTER_URL
policy:
  modes: {SaslUserSendingSurge: auto}
  min_queued_messages: 0
mitigation:
  dry_run: true"
rcv_start "$work/rcv"
. "$work/rcv/rcv_env"
sql() { rcv_sql "$work/rcv" "$1"; }
start=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%SZ)
labels_for() {
  echo alertname=SaslUserSendingSurge instance=mx1.saslguard.test:9754 "sasl_username=$1" severity=critical mitigation=auto
}

# --- 1. one Alertmanager ------------------------------------------------------
am_create "$work" single "$RCV_URL/alertmanager" "$RCV_TOKEN_FILE"
am_start "$work" single
# shellcheck disable=SC2046
am_add_alert "$work" single $(labels_for alice@saslguard.test) --start="$start" \
  --annotation=summary="alice@saslguard.test sends far above her baseline"
wait_for 20 rcv_sql_is "$work/rcv" "SELECT count(*) FROM alerts WHERE state = 'done'" 1 ||
  fail "alert not processed; receiver log: $(tail -5 "$work/rcv/receiver.log")"
assert_eq "$(sql "SELECT count(*) || ' ' || username || ' ' || status FROM incidents")" "1 alice@saslguard.test open" "incident"
assert_eq "$(sql "SELECT group_concat(kind) FROM (SELECT kind FROM actions WHERE actor = 'auto' ORDER BY id)")" "block_login,hold_mail" "actions"
assert_eq "$(sql "SELECT mode || ' ' || act FROM decisions")" "auto 1" "decision"

# A retry of the very same delivery.
sql "SELECT body FROM webhooks WHERE id = 1" > "$work/delivery.json"
assert_eq "$(rcv_post "$work/rcv" "$work/delivery.json")" 200 "redelivery status"
sleep 1  # the worker would act within milliseconds; give it a chance to do wrong
assert_eq "$(sql "SELECT count(*) FROM incidents")" 1 "incidents after redelivery"
assert_eq "$(sql "SELECT count(*) FROM actions WHERE actor = 'auto'")" 2 "actions after redelivery"
assert_eq "$(sql "SELECT duplicates FROM alerts WHERE id = 1")" 1 "duplicates counted"
# grep without -q reads the whole page: with -q it can exit at the match, and
# curl's write error then fails the pipeline (pipefail) although it matched.
curl -fsS "$RCV_URL/metrics" | grep -x 'saslguard_receiver_alerts_duplicate_total 1' >/dev/null || fail "duplicate metric"

# shellcheck disable=SC2046
am_resolve_alert "$work" single $(labels_for alice@saslguard.test)
wait_for 20 rcv_sql_is "$work/rcv" "SELECT status FROM incidents WHERE id = 1" resolved ||
  fail "resolution did not close the incident: $(sql "SELECT id, status, starts_at, state FROM alerts")"
am_stop "$work" single
echo "single Alertmanager: 1 incident, 2 action requests, redelivery ignored, resolved"

# --- 2. an HA pair ------------------------------------------------------------
# repeat_interval 2s: the pair re-sends the firing alert every group_interval,
# so the receiver sees several deliveries of one alert, from either peer.
AM_REPEAT_INTERVAL=2s am_create "$work" a "$RCV_URL/alertmanager" "$RCV_TOKEN_FILE"
AM_REPEAT_INTERVAL=2s am_create "$work" b "$RCV_URL/alertmanager" "$RCV_TOKEN_FILE"
# A short peer timeout makes the second peer send before it hears of the first
# one's notification more often: the receiver must cope with both deliveries.
AM_PEER_TIMEOUT=${AM_PEER_TIMEOUT:-200ms}
am_start "$work" a b
am_start "$work" b a
wait_for 20 bash -c "curl -fsS '$(am_url "$work" a)/api/v2/status' | jq -e '.cluster.peers | length == 2'" ||
  fail "the two Alertmanagers did not form a cluster"
before_webhooks=$(sql "SELECT count(*) FROM webhooks")
for am in a b; do
  # shellcheck disable=SC2046
  am_add_alert "$work" "$am" $(labels_for bob@saslguard.test) --start="$start"
done
wait_for 20 rcv_sql_is "$work/rcv" "SELECT count(*) FROM incidents WHERE username = 'bob@saslguard.test'" 1 ||
  fail "no incident for bob"
# Wait for at least three deliveries (first send plus repeats).
wait_for 30 bash -c "[ \$(sqlite3 -cmd '.timeout 5000' '$work/rcv/state.db' 'SELECT count(*) FROM webhooks') -ge $((before_webhooks + 3)) ]" ||
  fail "the pair did not repeat the notification"
deliveries=$(( $(sql "SELECT count(*) FROM webhooks") - before_webhooks ))
assert_eq "$(sql "SELECT count(*) FROM incidents WHERE username = 'bob@saslguard.test'")" 1 "incidents for bob"
assert_eq "$(sql "SELECT count(*) FROM actions a JOIN incidents i ON i.id = a.incident_id
                  WHERE i.username = 'bob@saslguard.test'")" 2 "actions for bob"
assert_eq "$(sql "SELECT count(*) FROM alerts WHERE state != 'done'")" 0 "backlog"
echo "HA pair: $deliveries deliveries of bob's alert -> 1 incident, 2 action requests (duplicates: $(sql "SELECT duplicates FROM alerts a WHERE a.id = (SELECT firing_alert_id FROM incidents WHERE username = 'bob@saslguard.test')"))"
echo ok
