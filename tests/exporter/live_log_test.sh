#!/usr/bin/env bash
# Live test of the exporter's log side against a real Postfix: N messages from
# each of several SASL users and K failed logins must show up in /metrics with
# exactly those numbers; then the log is rotated both ways while mail flows
# (rename+create via `postfix logrotate`, and copytruncate by hand) and nothing
# may be lost or counted twice.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands unset names in pf_create
. "$(dirname "$0")/../lib/postfix.sh"
exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
N=3 K=4 M=6
users=(alice bob carol)

work=$(make_workdir live-log)
cleanup_push "rm -rf '$work'"
pf_create "$work/pf"
cleanup_push "pf_stop '$work/pf'"
pf_env "$work/pf"
for u in "${users[@]}" dave erin; do pf_add_user "$work/pf" "$u@saslguard.test" "${u}pw"; done
pf_start "$work/pf"

port=$(free_port)
"$exporter" --web.listen-address="127.0.0.1:$port" --log.path="$PF_LOG" --log.poll-interval=100ms \
  --showq.path= > "$work/exporter.log" 2>&1 &
exporter_pid=$!
cleanup_push "kill $exporter_pid 2>/dev/null; wait $exporter_pid 2>/dev/null"
wait_http "http://127.0.0.1:$port/metrics" 30

# metric SERIES: the value of one exact series, or "absent".
metric() {
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v s="$1" '$1 == s {print $2; found=1} END {if (!found) print "absent"}'
}
metric_is() { [ "$(metric "$1")" = "$2" ]; }
expect() { # SERIES VALUE: waits up to 20s for the value, then asserts it
  wait_for 20 metric_is "$1" "$2" || true
  assert_eq "$(metric "$1")" "$2" "$1"
}
user_series() { echo "postfix_sasl_user_$1{sasl_username=\"$2@saslguard.test\"$3}"; }

# Phase 1: N messages per user, K failed logins.
for u in "${users[@]}"; do
  for i in $(seq 1 $N); do pf_send "$work/pf" "$u@saslguard.test" "${u}pw" >/dev/null; done
done
for i in $(seq 1 $K); do pf_send "$work/pf" alice@saslguard.test wrong >/dev/null 2>&1 || true; done
pf_wait_log "$work/pf" 'status=deferred' $((N * ${#users[@]})) 60
for u in "${users[@]}"; do
  expect "$(user_series messages_total "$u")" "$N"
  expect "$(user_series recipients_total "$u")" "$N"
  expect "$(user_series deliveries_total "$u" ',status="deferred"')" "$N"
  expect "$(user_series deliveries_total "$u" ',status="sent"')" 0
  expect "$(user_series client_ips "$u")" 1
done
expect 'postfix_smtpd_sasl_authentication_failures_total{sasl_method="PLAIN"}' "$K"
expect 'postfix_sasl_failures_by_client_ip{client_ip="127.0.0.1"}' "$K"
expect 'postfix_smtpd_connects_total' $((N * ${#users[@]} + K))
expect 'saslguard_exporter_tracked_users' "${#users[@]}"

# Phase 2: rename+create rotation while dave's messages flow.
( for i in $(seq 1 $M); do pf_send "$work/pf" dave@saslguard.test davepw >/dev/null; done ) &
sender=$!
pf_wait_log "$work/pf" 'sasl_username=dave@' 2 30
postfix -c "$PF_ETC" logrotate >/dev/null 2>&1
wait $sender
ls "$PF_DIR"/log/mail.log.* >/dev/null 2>&1 || fail "postfix logrotate did not rotate $PF_LOG"
expect "$(user_series messages_total dave)" "$M"
# `postfix logrotate` reloads Postfix (SIGHUP to master): a message in the active
# queue at that moment is requeued and attempted again, so Postfix may log M or
# M+1 deferred attempts. The truth is the log itself: every deferred line of
# dave's queue ids, in the rotated (gzipped) file and the new one, counted exactly once.
dave_ids=$(zcat -f "$PF_DIR"/log/mail.log* | sed -n 's/.*: \([0-9A-Za-z]*\): client=.*sasl_username=dave@saslguard\.test$/\1/p' | sort -u)
[ "$(echo "$dave_ids" | wc -l)" = "$M" ] || fail "expected $M queue ids for dave in the logs, got: $dave_ids"
dave_deferred=$(zcat -f "$PF_DIR"/log/mail.log* | grep -F 'status=deferred' | grep -cF -f <(printf '%s: to=\n' $dave_ids))
[ "$dave_deferred" -ge "$M" ] || fail "only $dave_deferred deferred lines for dave's $M messages in the logs"
expect "$(user_series deliveries_total dave ',status="deferred"')" "$dave_deferred"
expect 'saslguard_exporter_log_rotations_total' 1

# Phase 3: copytruncate. Lines written between the copy and the truncate are lost
# by design of copytruncate, so the truncate happens between two messages; the
# exporter must neither lose what follows nor read the start of the file twice.
for i in $(seq 1 $((M / 2))); do pf_send "$work/pf" erin@saslguard.test erinpw >/dev/null; done
expect "$(user_series deliveries_total erin ',status="deferred"')" $((M / 2))
cp "$PF_LOG" "$PF_LOG.copytruncate"
truncate -s 0 "$PF_LOG"
for i in $(seq 1 $((M / 2))); do pf_send "$work/pf" erin@saslguard.test erinpw >/dev/null; done
expect "$(user_series messages_total erin)" "$M"
expect "$(user_series deliveries_total erin ',status="deferred"')" "$M"
expect 'saslguard_exporter_log_rotations_total' 2

# Nothing counted twice anywhere.
for u in "${users[@]}"; do expect "$(user_series messages_total "$u")" "$N"; done
expect "$(user_series messages_total dave)" "$M"
expect 'postfix_smtpd_sasl_authentication_failures_total{sasl_method="PLAIN"}' "$K"
expect 'postfix_smtpd_connects_total' $((N * ${#users[@]} + K + 2 * M))
echo "ok: live log metrics exact, across rename and copytruncate rotation"
