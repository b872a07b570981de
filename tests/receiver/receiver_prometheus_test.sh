#!/usr/bin/env bash
# Live: culprit resolution against a real Prometheus scraping a real
# saslguard-exporter that tails a Postfix log written by tests/rules/postfix_traffic.py
# (lines shaped like Postfix 3.7's). bob and carol send a little; spammer sends
# 15 msg/s from 4 IPs. A PostfixQueueSurge webhook (no sasl_username label) for
# the exporter's instance must name spammer with evidence from Prometheus; with
# Prometheus stopped, the next alert is resolved from one exporter scrape and
# the evidence says the figures are totals.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/prometheus.sh
. "$here/../lib/prometheus.sh"
# shellcheck source=receiver_lib.sh
. "$here/receiver_lib.sh"

exporter=${EXPORTER_BIN:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}
[ -x "$exporter" ] || fail "no exporter at $exporter: build the saslguard-exporter target first"
[ -x "$RCV_BIN" ] || fail "no receiver at $RCV_BIN"
work=$(make_workdir rcv-prom)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
log=$work/mail.log
: > "$log"

exp_port=$(free_port)
"$exporter" --web.listen-address="127.0.0.1:$exp_port" --log.path="$log" --log.from-start --log.poll-interval=100ms \
  --showq.path= > "$work/exporter.log" 2>&1 &
exp_pid=$!
cleanup_push "kill $exp_pid 2>/dev/null; wait $exp_pid 2>/dev/null"
wait_http "http://127.0.0.1:$exp_port/metrics" 30 || fail "exporter did not start: $(cat "$work/exporter.log")"

cat > "$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: saslguard-exporter
    static_configs:
      - targets: ['127.0.0.1:$exp_port']
YML
prom_start "$work/prom" "$work/prometheus.yml"
prom_wait_targets_up 30 saslguard-exporter || fail "Prometheus does not scrape the exporter"

python3 "$here/../rules/postfix_traffic.py" --log "$log" --seed 5 --live 25 \
  --user bob@example.org=0.5 --user carol@example.org=0.3,ips=2 \
  --burst "spammer@example.org=15,start=0,ips=4,fail=0.5" > "$work/traffic.out" 2>&1 &
traffic=$!
cleanup_push "kill $traffic 2>/dev/null || true"
# Enough window for increase(): at least 12 s of samples with the burst in them.
sleep 12
prom_wait_value 20 'postfix_sasl_user_messages_total{sasl_username="spammer@example.org"}' ||
  fail "Prometheus has no spammer series"

rcv_create "$work/rcv" "prometheus:
  url: $PROM_URL
  timeout: 3s
  exporter_url: http://127.0.0.1:$exp_port/metrics
  window: 1m
policy:
  modes: {PostfixQueueSurge: confirm}
mitigation:
  dry_run: true"
rcv_start "$work/rcv"
sql() { rcv_sql "$work/rcv" "$1"; }
payload() { # FINGERPRINT
  python3 - "$1" "127.0.0.1:$exp_port" <<'PY'
import json, sys
labels = {"alertname": "PostfixQueueSurge", "instance": sys.argv[2], "severity": "warning", "mitigation": "confirm"}
a = {"status": "firing", "labels": labels, "annotations": {"summary": "queue surge"},
     "startsAt": "2026-11-23T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": sys.argv[1]}
print(json.dumps({"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing", "receiver": "saslguard",
  "groupLabels": {}, "commonLabels": labels, "commonAnnotations": a["annotations"], "externalURL": "", "alerts": [a]}))
PY
}

payload 00000000000000e1 > "$work/p1.json"
assert_eq "$(rcv_post "$work/rcv" "$work/p1.json")" 200 "webhook"
wait_for 20 rcv_sql_is "$work/rcv" "SELECT count(*) FROM evidence" 1 || fail "no evidence stored"
ev=$(sql "SELECT body FROM evidence WHERE incident_id = 1")
echo "evidence (Prometheus): $ev"
assert_eq "$(printf '%s' "$ev" | jq -r '.source + " " + .culprit')" "prometheus spammer@example.org" "culprit via Prometheus"
printf '%s' "$ev" | jq -e '.top_users[0].share > 0.8 and .top_users[0].messages > 50 and .top_users[0].distinct_ips == 4
                           and .top_users[0].bounce_ratio > 0' >/dev/null || fail "evidence numbers"
assert_eq "$(sql "SELECT mode || ' ' || actions FROM decisions WHERE incident_id = 1")" 'confirm ["block_login","hold_mail"]' "decision"

prom_stop "$work/prom"
payload 00000000000000e2 > "$work/p2.json"
assert_eq "$(rcv_post "$work/rcv" "$work/p2.json")" 200 "webhook"
wait_for 20 rcv_sql_is "$work/rcv" "SELECT count(*) FROM evidence" 2 || fail "no second evidence"
# The same user: the alert joins incident 1 (one incident per user); its
# evidence is the newest row.
ev=$(sql "SELECT body FROM evidence ORDER BY rowid DESC LIMIT 1")
echo "evidence (exporter fallback): $ev"
assert_eq "$(printf '%s' "$ev" | jq -r '.source + " " + .culprit')" "exporter spammer@example.org" "culprit via exporter"
printf '%s' "$ev" | jq -e '.notes[0] | contains("counters are totals since the exporter started")' >/dev/null ||
  fail "the fallback evidence does not say it uses totals"
echo ok
