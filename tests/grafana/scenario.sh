# shellcheck shell=bash
# A compromised-account scenario on real programs, for the dashboard test and
# scripts/render-dashboard.sh. Source it (after tests/lib/prometheus.sh and
# tests/lib/postfix.sh), then:
#
#   scenario_start WORK [WARMUP_S] [LIVE_S]
#
# 1. A private Postfix (tests/lib/postfix.sh) whose log first gets an hour of
#    normal traffic (tests/rules/postfix_traffic.py, past timestamps).
# 2. Real submissions over SMTP AUTH (swaks): mail from alice and bob stays in
#    the deferred queue (dead relayhost); real failed logins; real relay rejects.
# 3. saslguard-exporter on that log (--log.from-start) and showq socket;
#    saslguard-receiver when it is built (its /metrics; no Alertmanager here);
#    Prometheus from deploy/prometheus.yml (shipped intervals, shipped rules).
# 4. Live traffic appended to the same log: normal users, a steady newsletter,
#    a password guesser (203.0.113.7, 0.5/s), and after WARMUP_S (default 40)
#    alice's password leaks: 10 msg/s from 15 IPs of a network she never used,
#    70% of deliveries failing (60% of those: unknown recipients).
# Returns once SaslUserSendingSurge fires for alice (fails after 90s); the live
# traffic goes on in the background for LIVE_S seconds in total (default
# WARMUP_S + 120). Sets PROM_URL, SCENARIO_EXPORTER, SCENARIO_RECEIVER ("" when
# not running), SCENARIO_TRAFFIC_PID.

_scenario_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

scenario_start() {
  local work=$1 warmup=${2:-40} live=${3:-}
  live=${live:-$((warmup + 120))}
  local traffic=$_scenario_dir/../rules/postfix_traffic.py
  local exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
  local receiver=$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver
  [ -x "$exporter" ] || fail "no exporter at $exporter: build the saslguard-exporter target first"

  pf_create "$work/pf"
  cleanup_push "pf_stop '$work/pf'"
  pf_env "$work/pf"
  pf_add_user "$work/pf" alice@saslguard.test alicepw
  pf_add_user "$work/pf" bob@saslguard.test bobpw
  local users=(--user bob@saslguard.test=0.003 --user carol@saslguard.test=0.01,ips=2
               --user dave@saslguard.test=0.02,fail=0.1 --user newsletter@saslguard.test=2,fail=0.05)
  python3 "$traffic" --log "$PF_LOG" --seed 21 --history 3600 "${users[@]}" \
    --user alice@saslguard.test=0.002 --failures 198.51.100.23=0.002
  pf_start "$work/pf"

  local i
  for i in $(seq 1 12); do pf_send "$work/pf" alice@saslguard.test alicepw >/dev/null; done
  for i in 1 2 3; do pf_send "$work/pf" bob@saslguard.test bobpw >/dev/null; done
  for i in 1 2 3; do pf_send "$work/pf" alice@saslguard.test "wrong$i" >/dev/null 2>&1 || true; done
  swaks --server 127.0.0.1 --port "$PF_SMTP_PORT" --from spam@evil.example --to victim@remote.example \
        --silent 2 >/dev/null 2>&1 || true

  local exp_port
  exp_port=$(free_port)
  # A fresh exporter only learns networks for --sources.learning-period (7 days
  # by default, log time); here it learns from the first half of the history
  # hour, so the burst's network is new for alice as on a host that has run
  # for a week.
  "$exporter" --web.listen-address="127.0.0.1:$exp_port" --log.path="$PF_LOG" --log.from-start \
    --showq.path="$PF_SHOWQ" --queue.refresh-interval=5s --sources.learning-period=30m \
    > "$work/exporter.log" 2>&1 &
  local exp_pid=$!
  cleanup_push "kill $exp_pid 2>/dev/null; wait $exp_pid 2>/dev/null"
  SCENARIO_EXPORTER=127.0.0.1:$exp_port
  wait_http "http://$SCENARIO_EXPORTER/metrics" 30 || { cat "$work/exporter.log" >&2; fail "exporter did not start"; }

  SCENARIO_RECEIVER=""
  if [ -x "$receiver" ]; then
    local rport
    rport=$(free_port)
    mkdir -p "$work/receiver"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/receiver/webhook-token"
    chmod 600 "$work/receiver/webhook-token"  # the receiver refuses secrets others may read
    cat > "$work/receiver/receiver.yml" <<YML
listen_address: 127.0.0.1:$rport
state_path: $work/receiver/state.db
webhook:
  bearer_token_file: $work/receiver/webhook-token
prometheus:
  url: http://127.0.0.1:1
  exporter_url: http://$SCENARIO_EXPORTER/metrics
mitigation:
  dry_run: true
  postfix_config_dir: $PF_ETC
  sasl_access_map: $PF_SASL_ACCESS
  client_access_map: $PF_CLIENT_ACCESS
  showq_path: $PF_SHOWQ
  sasldb_path: $PF_SASLDB
telegram:
  enabled: false
YML
    "$receiver" --config "$work/receiver/receiver.yml" > "$work/receiver/receiver.log" 2>&1 &
    local recv_pid=$!
    cleanup_push "kill $recv_pid 2>/dev/null; wait $recv_pid 2>/dev/null"
    if wait_http "http://127.0.0.1:$rport/metrics" 20; then
      SCENARIO_RECEIVER=127.0.0.1:$rport
    else
      echo "scenario: saslguard-receiver did not start; going on without it:" >&2
      tail -5 "$work/receiver/receiver.log" >&2
    fi
  fi

  prom_config_from_deploy "$work/prometheus.yml" "$SCENARIO_EXPORTER" "$SCENARIO_RECEIVER"
  prom_start "$work/prom" "$work/prometheus.yml"
  prom_wait_targets_up 30 saslguard-exporter || fail "Prometheus does not scrape the exporter"

  python3 "$traffic" --log "$PF_LOG" --seed 22 --live "$live" "${users[@]}" \
    --failures 203.0.113.7=0.5 --failures 198.51.100.23=0.002 \
    --burst "alice@saslguard.test=10,start=$warmup,ips=15,fail=0.7,net=7" --marker "$work/marker" &
  SCENARIO_TRAFFIC_PID=$!
  cleanup_push "kill $SCENARIO_TRAFFIC_PID 2>/dev/null"

  wait_for $((warmup + 90)) bash -c "curl -fsS '$PROM_URL/api/v1/alerts' |
    jq -e '[.data.alerts[] | select(.labels.alertname == \"SaslUserSendingSurge\" and .state == \"firing\"
            and .labels.sasl_username == \"alice@saslguard.test\")] | length > 0'" ||
    fail "scenario: SaslUserSendingSurge did not fire for alice; alerts: $(prom_alerts)"
}
