#!/usr/bin/env bash
# tests/lib/postfix.sh's two options for SMTP-time containment (issue #16):
#
# PF_RELAY=sink: the relayhost is a real smtp-sink that accepts. N messages
# submitted with AUTH through the private Postfix (half on the submission port,
# half on the smtp port) arrive there exactly N times: counted at the sink (one
# dump file per completed transaction), each recipient once, and Postfix logs N
# "status=sent" and has nothing left in its queue.
#
# PF_POLICY_PORT: Postfix asks the policy service at RCPT and at END-OF-MESSAGE,
# on both smtpd services, for authenticated senders too (so the check sits before
# permit_sasl_authenticated: a REJECT for an authenticated user takes effect at
# either stage), and with the service gone mail still flows (DUNNO, fail-open).
# The policy service is a stub (tests/harness/policy_stub.py): saslguard's own
# does not exist yet.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/postfix.sh
. "$here/../lib/postfix.sh"

n=${SINK_MESSAGES:-20}
work=$(make_workdir pf-sink)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"

policy_port=$(free_port)
python3 "$here/policy_stub.py" "$policy_port" "$work/policy.log" RCPT=mallory@saslguard.test \
  END-OF-MESSAGE=eve@saslguard.test > "$work/policy.out" 2>&1 &
policy_pid=$!
cleanup_push "kill $policy_pid 2>/dev/null; wait $policy_pid 2>/dev/null"
wait_for 20 grep -q '^ready' "$work/policy.out" || fail "policy stub did not start: $(cat "$work/policy.out")"

PF_RELAY=sink PF_POLICY_PORT=$policy_port pf_create "$work/pf"
cleanup_push "pf_stop '$work/pf'"
for u in alice mallory eve; do pf_add_user "$work/pf" "$u@saslguard.test" "$u-pw"; done
pf_start "$work/pf" || fail "private Postfix (with smtp-sink) did not start"
pf_env "$work/pf"

# Every smtpd service uses main.cf's restriction lists: none overrides them.
overrides=$(postconf -c "$PF_ETC" -P | grep -E 'smtpd_(recipient|end_of_data)_restrictions|smtpd_policy_service' || true)
assert_eq "$overrides" "" "master.cf overrides of the policy restriction lists"
for p in smtpd_recipient_restrictions smtpd_end_of_data_restrictions; do
  assert_eq "$(postconf -c "$PF_ETC" -h "$p")" \
    "check_policy_service inet:127.0.0.1:$policy_port, permit_sasl_authenticated" "$p"
done
assert_eq "$(postconf -c "$PF_ETC" -h smtpd_policy_service_default_action)" DUNNO "default action"

# reply PORT USER RCPT: the SMTP reply code of one AUTH submission (250 = queued).
reply() {
  local out bad
  out=$(swaks --server 127.0.0.1 --port "$1" --auth PLAIN --auth-user "$2" --auth-password "${2%@*}-pw" \
        --from "$2" --to "$3" --hide-informational --hide-send 2>&1 || true)
  bad=$(printf '%s\n' "$out" | grep -E '^<\*\* [45][0-9][0-9]' | head -1 | cut -c5-7)
  if [ -n "$bad" ]; then echo "$bad"
  elif grep -q 'queued as' <<<"$out"; then echo 250
  else echo "none: $out"; fi
}

for i in $(seq 1 "$n"); do
  port=$PF_SUBMISSION_PORT
  [ $((i % 2)) = 0 ] && port=$PF_SMTP_PORT
  assert_eq "$(reply "$port" alice@saslguard.test "rcpt$i@remote.example")" 250 "alice's message $i (port $port)"
done
assert_eq "$(reply "$PF_SUBMISSION_PORT" mallory@saslguard.test rcpt@remote.example)" 554 "REJECT at RCPT"
assert_eq "$(reply "$PF_SMTP_PORT" eve@saslguard.test rcpt@remote.example)" 554 "REJECT at END-OF-MESSAGE"

pf_wait_sink "$work/pf" "$n" 120 || fail "the sink got $(pf_sink_count "$work/pf") of $n: $(tail -5 "$PF_LOG")"
queue_empty() { [ "$(pf_queue_count "$work/pf")" = 0 ]; }
wait_for 60 queue_empty || fail "messages left in the queue: $(postqueue -c "$PF_ETC" -p | tail -3)"
sleep 1  # anything extra (a duplicate delivery) would arrive now
assert_eq "$(pf_sink_count "$work/pf")" "$n" "messages at the sink"
assert_eq "$(grep -c ' status=sent ' "$PF_LOG")" "$n" "status=sent lines in the Postfix log"
got=$(grep -h '^X-Rcpt-Args:' "$PF_SINK_DIR"/msg.* | sed -E 's/.*<rcpt([0-9]+)@remote.example>.*/\1/' | sort -n | tr '\n' ' ')
assert_eq "$got" "$(seq 1 "$n" | tr '\n' ' ')" "recipients at the sink (each once)"

# Where Postfix asked: RCPT and END-OF-MESSAGE on both services, for alice.
for state in RCPT END-OF-MESSAGE; do
  for port in "$PF_SMTP_PORT" "$PF_SUBMISSION_PORT"; do
    grep -qx "$state $port alice@saslguard.test" "$work/policy.log" ||
      fail "no $state policy request from the smtpd on port $port: $(sort "$work/policy.log" | uniq -c)"
  done
done
assert_eq "$(grep -c '^END-OF-MESSAGE .* alice@saslguard.test$' "$work/policy.log")" "$n" "end-of-data requests for alice"

# Fail-open: with the policy service gone, mail is still accepted and delivered.
kill "$policy_pid"; wait "$policy_pid" 2>/dev/null || true
assert_eq "$(reply "$PF_SUBMISSION_PORT" alice@saslguard.test rcpt0@remote.example)" 250 "submission with the policy service down"
pf_wait_sink "$work/pf" $((n + 1)) 60 || fail "the message sent with the policy service down did not arrive"
grep -q "warning: problem talking to server 127.0.0.1:$policy_port" "$PF_LOG" ||
  fail "Postfix did not log the missing policy service"
echo "smtp-sink received $((n + 1)) of $((n + 1)); policy asked at RCPT and END-OF-MESSAGE on both smtpd services; fail-open"
echo ok
