#!/usr/bin/env bash
# Fault: the mail log is deleted (rm, not a rename) while the exporter tails it,
# stays missing for a while, and is then created again (an admin's mistake, or a
# logrotate with `create` after a failed `rename`).
# Expected: the exporter keeps running and serving /metrics while the file is
# missing; it finishes the deleted file (lines written before the rm are
# counted), waits for the path, reads the recreated file from its beginning, and
# counts every line exactly once. (Rename and copytruncate rotation are covered
# by tests/exporter/file_tailer_test.cpp and tests/exporter/live_log_test.sh.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"

exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
[ -x "$exporter" ] || fail "no exporter at $exporter"
work=$(make_workdir fault-logdel)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
log=$work/mail.log
: > "$log"

port=$(free_port)
"$exporter" --web.listen-address="127.0.0.1:$port" --log.path="$log" --log.poll-interval=100ms \
  --showq.path= > "$work/exporter.log" 2>&1 &
pid=$!
cleanup_push "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
wait_http "http://127.0.0.1:$port/metrics" 30

metric() {
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v s="$1" '$1 == s {print $2; found=1} END {if (!found) print "absent"}'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
expect() { wait_for 20 metric_is "$1" "$2" || true; assert_eq "$(metric "$1")" "$2" "$1"; }
# submit USER N QIDPREFIX: N accepted-message lines of one SASL user.
submit() {
  local i
  for i in $(seq 1 "$2"); do
    printf 'Nov 23 09:42:39 mail postfix/submission/smtpd[6495]: %s%05X: client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=%s\n' \
      "$3" "$i" "$1"
  done
}
series='postfix_sasl_user_messages_total{sasl_username="alice@saslguard.test"}'

submit alice@saslguard.test 10 A0 >> "$log"
expect "$series" 10

# Written just before the rm: still counted (the open fd keeps the old inode).
submit alice@saslguard.test 5 A1 >> "$log"
rm -f "$log"
sleep 1   # the fault is "missing for a while": several poll intervals
kill -0 "$pid" || fail "exporter exited after the log was deleted: $(tail -5 "$work/exporter.log")"
expect "$series" 15

submit alice@saslguard.test 7 B0 > "$log.new"
mv "$log.new" "$log"
expect "$series" 22
submit alice@saslguard.test 3 B1 >> "$log"
expect "$series" 25
kill -0 "$pid" || fail "exporter died"
echo "log deleted and recreated: 25 messages counted once; rotations seen: $(metric saslguard_exporter_log_rotations_total)"
echo ok
