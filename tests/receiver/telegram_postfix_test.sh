#!/usr/bin/env bash
# The whole Telegram path against real programs on 127.0.0.1: a private Postfix
# with Cyrus sasldb (tests/lib/postfix.sh), saslguard-receiver with its real
# mitigation executor, and the telegram-test-api emulator. An admin presses
# "Block login" on the incident message → alice's next SMTP AUTH submission is
# rejected by Postfix (554) while bob still sends → "Undo" lets alice send again;
# "/block bob" and "/blocked" work the same way from a command.
set -eo pipefail
. "$(dirname "$0")/mitigation_lib.sh"
. "$(dirname "$0")/../lib/telegram.sh"

ADMIN=1001
mit_setup telegram-postfix   # sets $work, $cfg, PF_*: Postfix with alice and bob, started
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice before any block"

tg_start "$work"
port=$(free_port)
sed -i "s/^listen_address: .*/listen_address: 127.0.0.1:$port/" "$cfg"
tg_receiver_yaml "$work" $ADMIN >> "$cfg"
tg_receiver_start "$cfg" "$port"

jq -cn '{version:"4", groupKey:"{}:{alertname=\"SaslUserSendingSurge\"}", truncatedAlerts:0, status:"firing",
  receiver:"saslguard", externalURL:"http://127.0.0.1:9093", groupLabels:{}, commonLabels:{}, commonAnnotations:{},
  alerts:[{status:"firing", fingerprint:"a11ce00000000001", startsAt:"2026-11-23T09:00:00Z",
    endsAt:"0001-01-01T00:00:00Z", generatorURL:"",
    labels:{alertname:"SaslUserSendingSurge", severity:"critical", sasl_username:"alice@saslguard.test"},
    annotations:{summary:"alice sends far above her baseline"}}]}' |
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $(cat "$PF_DIR/token")" \
    -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/alertmanager"

tg_wait_text $ADMIN "incident #1"
mid=$(tg_messages $ADMIN | jq -r '.[0].message_id')
# The message samples alice's queued mail, read from the real queue files
# (postcat): her one message above, from 127.0.0.1, to one domain. Its subject
# stays hidden: telegram.queue_subjects is off by default.
text=$(tg_messages $ADMIN | jq -r '.[0].text')
grep -qF "<b>Queued mail</b> (1 message read): 1 recipient domain" <<<"$text" ||
  fail "no queue sample in the message: $text"
grep -qF "in the queued mail: <code>127.0.0.1</code> (1)" <<<"$text" || fail "no client address: $text"
if grep -q "  • " <<<"$text"; then fail "a subject is shown with the privacy switch off: $text"; fi
tg_press $ADMIN $ADMIN "$mid" "$(tg_button $ADMIN "Block login")"
tg_wait_text $ADMIN "@user1001 (1001): blocked login alice@saslguard.test"
grep -qx "alice@saslguard.test REJECT 5.7.1 account blocked by saslguard" "$PF_SASL_ACCESS" \
  || fail "map: $(cat "$PF_SASL_ACCESS")"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 554 "alice after Block login in Telegram"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 250 "bob while alice is blocked"
assert_eq "$(sqlite3 -cmd '.timeout 5000' "$PF_DIR/state.db" \
  "SELECT actor FROM actions WHERE kind = 'block_login' AND state = 'applied'")" "telegram:1001" "audited actor"

wait_for 10 test -n "$(tg_button $ADMIN "Undo block login")" || true
undo=$(tg_button $ADMIN "Undo block login")
[ -n "$undo" ] || fail "no Undo button after the block"
tg_press $ADMIN $ADMIN "$mid" "$undo"
tg_wait_text $ADMIN "unblocked login alice@saslguard.test"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice after Undo"

# Undo buttons render from the blocks in force, whoever changes them: blocked
# again from the button, then unblocked with saslguardctl (another process),
# the message loses its Undo button and offers Block login again.
has_button() { [ -n "$(tg_button $ADMIN "$1")" ]; }
no_button() { [ -z "$(tg_button $ADMIN "$1")" ]; }
wait_for 15 has_button "Block login" || fail "Block login not offered again after Undo"
tg_press $ADMIN $ADMIN "$mid" "$(tg_button $ADMIN "Block login")"
wait_for 15 has_button "Undo block login" || fail "no Undo button after blocking again"
ctl_ok "$cfg" unblock-login alice@saslguard.test
wait_for 20 no_button "Undo block login" || fail "the Undo button stayed after saslguardctl unblock-login"
has_button "Block login" || fail "Block login not offered after saslguardctl unblock-login"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice after saslguardctl unblock-login"

tg_command $ADMIN $ADMIN "/block bob@saslguard.test"
tg_wait_text $ADMIN "✅ blocked login bob@saslguard.test"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 554 "bob after /block"
tg_command $ADMIN $ADMIN "/blocked"
tg_wait_text $ADMIN "• login blocked: <code>bob@saslguard.test</code>, by Telegram user 1001"
echo ok
