#!/usr/bin/env bash
# Queue benchmark: what one background showq refresh of saslguard-exporter costs
# next to `postqueue -j` (the baseline, run in the same command against the same
# queue), and /metrics latency while refreshes run, at 10,000 and 50,000 queued
# (deferred) messages in a private Postfix (tests/lib/postfix.sh).
#
#   bench/queue/run.sh [COUNT...]        default: 10000 50000 (ascending)
#
# Env: SASLGUARD_BUILD_DIR (default ./build), BENCH_RUNS (refreshes and postqueue
# runs per point, default 5), BENCH_REQUESTS (/metrics requests, default 1000),
# BENCH_OUT (JSON results, default bench/queue/results.json).
# Takes a few minutes: injecting 50,000 messages through smtpd+cleanup is most of it.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/lib/postfix.sh"

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000 50000)
runs=${BENCH_RUNS:-5}
requests=${BENCH_REQUESTS:-1000}
out=${BENCH_OUT:-$here/results.json}
exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
[ -x "$exporter" ] || fail "no exporter at $exporter (cmake --build … --target saslguard-exporter)"

work=$(make_workdir bench-queue)
cleanup_push "rm -rf '$work'"
pf=$work/pf
# Deferred mail stays deferred for the whole run: no queue runs, no retries.
PF_BACKOFF=4h pf_create "$pf"
pf_env "$pf"
# One long-lived showq process, so its CPU can be read from /proc (none exits mid-run).
postconf -c "$PF_ETC" -P "showq/unix/max_use=1000000" "showq/unix/max_idle=4h"
pf_add_user "$pf" bench@saslguard.test bench-pw
pf_start "$pf"
cleanup_push "pf_stop '$pf'"
master_pid=$(tr -d ' ' < "$PF_SPOOL/pid/master.pid")

deferred_files() { find "$PF_SPOOL/deferred" -type f | wc -l; }
queued_files() { find "$PF_SPOOL"/{incoming,active,maildrop,deferred,hold} -type f | wc -l; }

echo "[" > "$out.tmp"
have=0
first=1
for n in "${counts[@]}"; do
  [ "$n" -ge "$have" ] || fail "counts must ascend ($n after $have)"
  echo "bench-queue: injecting $((n - have)) messages (to $n)" >&2
  python3 "$here/inject.py" "$PF_SUBMISSION_PORT" bench@saslguard.test bench-pw $((n - have)) 4 500
  have=$n
  # Wait until qmgr has tried and deferred every message (nothing in flight).
  for _ in $(seq 1 600); do
    [ "$(deferred_files)" -eq "$n" ] && [ "$(queued_files)" -eq "$n" ] && break
    sleep 1
  done
  [ "$(deferred_files)" -eq "$n" ] || fail "only $(deferred_files) of $n messages deferred"
  echo "bench-queue: measuring at $n queued" >&2
  [ $first = 1 ] || echo "," >> "$out.tmp"
  first=0
  python3 "$here/measure.py" "$PF_ETC" "$master_pid" "$exporter" "$PF_SHOWQ" "$(free_port)" "$n" "$runs" "$requests" \
    | tee -a "$out.tmp" | python3 "$here/summary.py"
done
echo "]" >> "$out.tmp"
mv "$out.tmp" "$out"
echo "bench-queue: results in $out" >&2
