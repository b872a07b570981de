#!/usr/bin/env bash
# Benchmark: sustained Alertmanager webhooks/s into saslguard-receiver with
# durable writes (synchronous=FULL, group commit), p50/p99 latency, and a count
# of stored rows afterwards (no accepted alert may be missing).
# Baseline in the same command: GET /healthz on the same server (HTTP only, no
# storage), so the ratio shows what parsing + the durable commit cost.
#
#   bench/receiver/run.sh [DURATION_S] [CONNECTIONS]      (defaults 20, 32)
# Needs wrk and a built receiver (SASLGUARD_BUILD_DIR, default build/).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../tests/receiver/receiver_lib.sh
. "$here/../../tests/receiver/receiver_lib.sh"
duration=${1:-20}
conns=${2:-32}
threads=${WRK_THREADS:-2}
[ -x "$RCV_BIN" ] || fail "no receiver at $RCV_BIN"
command -v wrk >/dev/null || fail "wrk is not installed (apt-get install wrk)"

work=$(make_workdir rcv-bench)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
RCV_LOG_LEVEL=warn rcv_create "$work/rcv" "prometheus:
  url: http://127.0.0.1:1
  timeout: 1s
  exporter_url: ''
mitigation:
  dry_run: true"
rcv_start "$work/rcv"
. "$work/rcv/rcv_env"
export WEBHOOK_TOKEN
WEBHOOK_TOKEN=$(cat "$RCV_TOKEN_FILE")

echo "== baseline: GET /healthz, ${duration}s, $conns connections, $threads wrk threads"
base=$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "$RCV_URL/healthz")
base_rps=$(printf '%s\n' "$base" | awk '/^Requests\/sec/ {print $2}')
printf '%s\n' "$base" | grep -E 'Requests/sec|50%|99%'

echo "== webhooks: POST /alertmanager, distinct fingerprints, ${duration}s, $conns connections"
out=$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency -s "$here/webhook.lua" "$RCV_URL/alertmanager")
printf '%s\n' "$out" | grep -E 'Requests/sec|Non-2xx|Socket errors' || true
result=$(printf '%s\n' "$out" | grep '^RESULT')
rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec/ {print $2}')
echo "$result"

# Every 200 is a row; a request wrk cut off at the end may have been stored
# without wrk counting its answer, so rows may exceed answers, never fall short.
eval "$(printf '%s\n' "$result" | sed 's/^RESULT //')"
answered=$((requests - non2xx))
rows=$(rcv_sql "$work/rcv" "SELECT count(*) FROM alerts")
webhooks=$(rcv_sql "$work/rcv" "SELECT count(*) FROM webhooks")
echo "stored: $rows alerts in $webhooks webhooks for $answered answered requests"
[ "$non2xx" = 0 ] || fail "$non2xx requests were not answered 200"
[ "$rows" -ge "$answered" ] || fail "lost alerts: $rows stored < $answered answered"
backlog=$(rcv_sql "$work/rcv" "SELECT count(*) FROM alerts WHERE state != 'done'")
echo "worker backlog at the end of the run: $backlog"
ratio=$(python3 -c "print(f'{$rps / $base_rps:.2f}')")
echo "SUMMARY webhooks_per_s=$rps p50_ms=$p50_ms p99_ms=$p99_ms max_ms=$max_ms healthz_per_s=$base_rps ratio_to_healthz=$ratio lost=0"
python3 -c "import sys; sys.exit(0 if $rps >= 2000 and $p99_ms <= 25 else 1)" ||
  echo "TARGET MISSED: want >= 2000 webhooks/s and p99 <= 25 ms" >&2
