# shellcheck shell=bash
# Starting a real saslguard-receiver for integration tests and benchmarks.
#   rcv_create DIR [EXTRA_YAML]   writes DIR/receiver.yml (free port, private state.db, token)
#   rcv_dry_run_yaml DIR          EXTRA_YAML for an auto, dry-run receiver with private paths
#   rcv_start DIR / rcv_kill9 DIR / rcv_stop DIR
#   rcv_sql DIR "SELECT …"         query its state database
#   rcv_exporter DIR USER...       a real exporter that has counted 25 messages per USER
# DIR/rcv_env holds RCV_PORT, RCV_URL, RCV_TOKEN_FILE.

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"

RCV_BIN=${RCV_BIN:-$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver}

rcv_create() {
  local dir=$1 extra=${2:-}
  mkdir -p "$dir"
  local port
  port=$(free_port)
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$dir/webhook_token"
  chmod 600 "$dir/webhook_token"  # the receiver refuses secrets others may read
  cat > "$dir/rcv_env" <<ENV
RCV_DIR=$dir
RCV_PORT=$port
RCV_URL=http://127.0.0.1:$port
RCV_TOKEN_FILE=$dir/webhook_token
ENV
  cat > "$dir/receiver.yml" <<YML
listen_address: 127.0.0.1:$port
state_path: $dir/state.db
log_level: ${RCV_LOG_LEVEL:-info}
webhook:
  bearer_token_file: $dir/webhook_token
$extra
YML
}

# rcv_dry_run_yaml DIR [EXPORTER_URL]: the extra YAML of a receiver that acts
# automatically on every alert whose user EXPORTER_URL (rcv_exporter) counted,
# in dry run only, with Prometheus unreachable and its mitigation paths inside
# DIR, so the dry runs never read the host's Postfix queue or maps. Without an
# exporter the counts are unknown, and unknown evidence never acts: confirm.
# Nothing is queued, so the log is trusted alone (min_queued_messages 0).
rcv_dry_run_yaml() {
  local d=$1 exporter=${2:-}
  cat <<YML
prometheus:
  url: http://127.0.0.1:1
  timeout: 1s
  exporter_url: '$exporter'
policy:
  max_auto_actions_per_hour: 100000
  min_queued_messages: 0
mitigation:
  dry_run: true
  postfix_config_dir: $d
  sasl_access_map: $d/sasl_access
  client_access_map: $d/client_access
  showq_path: $d/no-showq
  sasl_backend: none
YML
}

rcv_start() {
  local dir=$1
  # shellcheck disable=SC1091
  . "$dir/rcv_env"
  "$RCV_BIN" --config "$dir/receiver.yml" >> "$dir/receiver.log" 2>&1 &
  echo $! > "$dir/receiver.pid"
  cleanup_push "rcv_stop '$dir'"
  # Generous: a restart after SIGKILL recovers the WAL, and a loaded machine is slow.
  wait_http "$RCV_URL/healthz" 60
}

rcv_stop() {
  local pidfile=$1/receiver.pid
  [ -f "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  wait "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

rcv_kill9() {
  local pidfile=$1/receiver.pid
  kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  wait "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

rcv_sql() { sqlite3 -cmd ".timeout 5000" "$1/state.db" "$2"; }

# rcv_post DIR FILE: POST a payload file with the token; prints the HTTP status.
rcv_post() {
  local dir=$1 file=$2
  # shellcheck disable=SC1091
  . "$dir/rcv_env"
  curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$RCV_TOKEN_FILE")" \
    -H 'Content-Type: application/json' --data-binary @"$file" "$RCV_URL/alertmanager"
}

# rcv_sql_is DIR SQL EXPECTED: true when the query prints EXPECTED (for wait_for).
rcv_sql_is() { [ "$(rcv_sql "$1" "$2")" = "$3" ]; }

# rcv_exporter DIR USER...: a real saslguard-exporter (its /metrics at
# $RCV_EXPORTER_URL) that has read a Postfix log in which each USER submitted
# 25 messages (smtpd "client=…, sasl_method=PLAIN, sasl_username=USER" lines as
# Postfix 3.7 writes them). For tests whose alerts must act automatically with
# Prometheus down: the receiver's exporter fallback then knows each user's
# count (unknown evidence never acts automatically). Returns once every USER
# is counted.
rcv_exporter() {
  local dir=$1
  shift
  mkdir -p "$dir"
  python3 - "$dir/mail.log" "$@" <<'PY'
import sys, time
log, users = sys.argv[1], sys.argv[2:]
stamp = time.strftime("%b %e %H:%M:%S")
with open(log, "w") as f:
    n = 0
    for u in users:
        for i in range(25):
            n += 1
            f.write("%s mx1 postfix/submission/smtpd[4242]: %010X: client=unknown[203.0.113.%d], "
                    "sasl_method=PLAIN, sasl_username=%s\n" % (stamp, 0x10000000 + n, i % 250 + 1, u))
PY
  local port
  port=$(free_port)
  "${EXPORTER_BIN:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}" \
    --web.listen-address="127.0.0.1:$port" --log.path="$dir/mail.log" --log.from-start \
    --showq.path= > "$dir/exporter.log" 2>&1 &
  cleanup_push "kill $! 2>/dev/null; wait $! 2>/dev/null"
  RCV_EXPORTER_URL=http://127.0.0.1:$port/metrics
  wait_http "$RCV_EXPORTER_URL" 20 || fail "exporter did not start: $(cat "$dir/exporter.log")"
  local last=${*: -1}
  wait_for 30 bash -c "curl -fsS '$RCV_EXPORTER_URL' |
    grep -qF 'postfix_sasl_user_messages_total{sasl_username=\"$last\"} 25'" ||
    fail "the exporter did not count $last: $(curl -fsS "$RCV_EXPORTER_URL" | grep sasl_user_messages | head -3)"
}
