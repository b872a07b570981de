#!/usr/bin/env bash
# Live: the SMTP policy service against a private Postfix (check_policy_service
# at RCPT and END-OF-MESSAGE, fail-open default action), driven with swaks.
#
# saslguard-policy-host STANDS IN FOR saslguard-receiver until the service is
# wired into the receiver: it runs the same library (SmtpPolicyService) with a
# BlockView read from a file (as the receiver will update its BlockSet when a
# block is recorded) and GuardEvents that log (the receiver will open an
# incident). Everything else is real: Postfix 3.7, Cyrus SASL, the hold queue.
#
#   1. a normal user's mail is accepted (DUNNO);
#   2. a login blocked in the service (no postmap, the map is untouched) gets a
#      5xx at once, from the service;
#   3. a burst past the guard's limit lands in the hold queue, one trip event,
#      while another user's mail is not held;
#   4. service killed: mail keeps flowing (smtpd_policy_service_default_action =
#      DUNNO) and the map file still refuses a login blocked there;
#   5. service back: Postfix reconnects and the guard holds again.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
. "$(dirname "$0")/../../lib/postfix.sh"

HOST_BIN=${POLICY_HOST_BIN:-$SASLGUARD_BUILD_DIR/tests/receiver/smtp_policy/saslguard-policy-host}
[ -x "$HOST_BIN" ] || fail "$HOST_BIN not built"

work=$(make_workdir policy-postfix)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
pf_create "$work/pf"
cleanup_push "pf_stop '$work/pf'"
pf_env "$work/pf"
for u in alice bob carol dave frank; do pf_add_user "$work/pf" "$u@saslguard.test" "${u}pw"; done

port=$(free_port)
policy="inet:127.0.0.1:$port"
# The wiring docs/policy-service.md describes: per-service settings (Postfix
# >= 3.0) in main.cf variables, used in master.cf overrides of the submission
# service (as Debian's example submission entry overrides the lists). RCPT over
# the unix socket in the queue directory (the path chrooted smtpd processes
# see), END-OF-MESSAGE over loopback TCP, both fail-open.
# (A helper in tests/lib/postfix.sh may do this later; until then the test says it here.)
postconf -c "$PF_ETC" -e \
  "saslguard_rcpt_policy = check_policy_service { unix:private/saslguard-policy, timeout=10s, default_action=DUNNO }" \
  "saslguard_eom_policy = check_policy_service { $policy, timeout=10s, default_action=DUNNO }"
postconf -c "$PF_ETC" -P \
  "127.0.0.1:$PF_SUBMISSION_PORT/inet/smtpd_recipient_restrictions=\$saslguard_rcpt_policy,permit_sasl_authenticated,reject" \
  "127.0.0.1:$PF_SUBMISSION_PORT/inet/smtpd_end_of_data_restrictions=\$saslguard_eom_policy"
assert_eq "$(postconf -c "$PF_ETC" -h smtpd_policy_service_default_action)" "451 4.3.5 Server configuration problem" \
  "the global default action (fail-open must come from the per-service setting)"

blocks=$work/blocks
: > "$blocks"
host_pid=
start_host() {
  "$HOST_BIN" --listen "unix:$PF_SPOOL/private/saslguard-policy" --listen "$policy" \
    --socket-group postfix --blocks "$blocks" --max-messages 5 --max-recipients 1000 --log-level info >> "$work/host.log" 2>&1 &
  host_pid=$!
  wait_for 20 grep -q "policy: listening.*$port" "$work/host.log" || fail "host did not start: $(cat "$work/host.log")"
}
stop_host() { [ -n "$host_pid" ] && kill -9 "$host_pid" 2>/dev/null; wait "$host_pid" 2>/dev/null || true; host_pid=; }
cleanup_push stop_host
pf_start "$work/pf"
start_host
[ "$(stat -c %G:%a "$PF_SPOOL/private/saslguard-policy")" = postfix:660 ] ||
  fail "socket owner/mode: $(stat -c %U:%G:%a "$PF_SPOOL/private/saslguard-policy")"

# reply USER [swaks args]: "250" when queued, else the first 4xx/5xx reply line.
reply() {
  local user=$1
  shift
  local out bad
  out=$(swaks --server 127.0.0.1 --port "$PF_SUBMISSION_PORT" --auth PLAIN \
        --auth-user "$user" --auth-password "${user%@*}pw" --from "$user" \
        --to "rcpt@remote.example" --hide-informational --hide-send "$@" 2>&1) || true
  bad=$(printf '%s\n' "$out" | grep -E '^<\*\* [45][0-9][0-9]' | head -1 | cut -c5-)
  if [ -n "$bad" ]; then echo "$bad"
  elif grep -q 'queued as' <<<"$out"; then echo 250
  else echo "no reply: $out"; fi
}
# queued USER QUEUE: messages of USER (envelope sender) in QUEUE (hold, deferred, active, incoming).
queued() {
  postqueue -c "$PF_ETC" -j | python3 -c '
import json, sys
user, queue = sys.argv[1], sys.argv[2]
n = 0
for line in sys.stdin:
    m = json.loads(line)
    if m["sender"] == user and m["queue_name"] == queue: n += 1
print(n)' "$1" "$2"
}
host_lines() { grep -c -- "$1" "$work/host.log" || true; }

echo "== 1. a normal user is answered DUNNO ($SECONDS s)"
assert_eq "$(reply bob@saslguard.test)" 250 "bob, nothing blocked"

echo "== 2. a login blocked in the service is refused at once, the map untouched ($SECONDS s)"
map_before=$(md5sum "$PF_SASL_ACCESS" "$PF_SASL_ACCESS.db")
echo "login Alice@SASLguard.test" >> "$blocks"
wait_for 10 grep -q 'host: blocks loaded" logins=1 .*generation=1' "$work/host.log" || fail "blocks not reloaded"
r=$(reply alice@saslguard.test)
[[ $r == "554 5.7.1 <rcpt@remote.example>: Recipient address rejected: Sending from this account is blocked; contact your mail administrator" ]] ||
  fail "alice blocked by the service: got '$r'"
assert_eq "$(md5sum "$PF_SASL_ACCESS" "$PF_SASL_ACCESS.db")" "$map_before" "the map was touched"
grep -q 'policy: blocked login refused" sasl_username=alice@saslguard.test' "$work/host.log" || fail "no service log line for alice"
assert_eq "$(reply bob@saslguard.test)" 250 "bob while alice is blocked"

echo "== 3. a burst past the guard's limit (5 messages/60s) is held; bob is not ($SECONDS s)"
for i in 1 2 3 4 5 6 7 8; do
  assert_eq "$(reply carol@saslguard.test --header "Subject: burst $i")" 250 "carol message $i is accepted (held or not)"
done
for i in 1 2; do assert_eq "$(reply bob@saslguard.test)" 250 "bob during carol's hold"; done
assert_eq "$(queued carol@saslguard.test hold)" 3 "carol's messages in the hold queue (6, 7, 8)"
carol_not_held=$(( $(queued carol@saslguard.test deferred) + $(queued carol@saslguard.test active) + $(queued carol@saslguard.test incoming) ))
assert_eq "$carol_not_held" 5 "carol's first 5 messages, not held"
assert_eq "$(queued bob@saslguard.test hold)" 0 "bob's messages in the hold queue"
assert_eq "$(host_lines 'host: guard tripped" user=carol@saslguard.test exceeded=messages messages=6')" 1 "trip events for carol"
assert_eq "$(host_lines 'host: guard tripped"')" 1 "trip events in all"
assert_eq "$(host_lines 'host: held" user=carol@saslguard.test')" 3 "held events for carol"
pf_wait_log "$work/pf" 'hold: END-OF-MESSAGE from localhost\[127.0.0.1\]: .*saslguard sending guard holds mail of carol@saslguard.test \(6 messages/1m' 1 10
# Each held queue id reported by the service is one Postfix really holds.
for qid in $(sed -n 's/.*host: held" user=carol@saslguard.test queue_id=\([0-9A-F]*\).*/\1/p' "$work/host.log"); do
  postqueue -c "$PF_ETC" -j | grep -q "\"queue_name\": *\"hold\", *\"queue_id\": *\"$qid\"" ||
    fail "queue id $qid reported held is not in the hold queue"
done

echo "== 4. service killed: mail flows (DUNNO default), the map still refuses a blocked login ($SECONDS s)"
printf 'dave@saslguard.test REJECT 5.7.1 account blocked by saslguard\n' > "$PF_SASL_ACCESS"
postmap -c "$PF_ETC" "hash:$PF_SASL_ACCESS"
stop_host
assert_eq "$(reply bob@saslguard.test)" 250 "bob with the service down"
assert_eq "$(reply carol@saslguard.test)" 250 "carol with the service down (the guard is gone)"
r=$(reply dave@saslguard.test)
[[ $r == "554 5.7.1 <dave@saslguard.test>: SASL login name rejected: account blocked by saslguard" ]] ||
  fail "dave blocked by the map with the service down: got '$r'"
pf_wait_log "$work/pf" "warning: problem talking to server private/saslguard-policy" 1 10
pf_wait_log "$work/pf" "warning: problem talking to server 127.0.0.1:$port" 1 10

echo "== 5. service back: Postfix reconnects and the guard holds again ($SECONDS s)"
start_host
for i in 1 2 3 4 5 6; do assert_eq "$(reply frank@saslguard.test)" 250 "frank message $i"; done
assert_eq "$(queued frank@saslguard.test hold)" 1 "frank's 6th message held after the restart"
assert_eq "$(host_lines 'host: guard tripped" user=frank@saslguard.test')" 1 "trip events for frank"
echo "PASS"
