#!/usr/bin/env bash
# saslguard-receiver with telegram.enabled against the telegram-test-api emulator:
# an Alertmanager webhook → incident message with buttons in the admin chat →
# a stranger's press refused → the admin's press reaches the executor and edits
# the message → /status answers → /metrics counts it → the resolve edits the message.
set -euo pipefail
. "$(dirname "$0")/../lib/telegram.sh"

ADMIN=1001
STRANGER=666
work=$(make_workdir telegram-receiver)
cleanup_push "rm -rf '$work'"

tg_start "$work"

port=$(free_port)
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$work/webhook_token"
chmod 600 "$work/webhook_token"  # the receiver refuses secrets others may read
{
  cat <<YML
listen_address: 127.0.0.1:$port
state_path: $work/state.db
log_level: debug
webhook:
  bearer_token_file: $work/webhook_token
# Never the host's Postfix: maps in the work dir, and dry-run (telegram_postfix_test.sh
# is the one that changes a private Postfix for real).
mitigation:
  dry_run: true
  postfix_config_dir: $work
  sasl_access_map: $work/sasl_access
  client_access_map: $work/client_access
  sasl_backend: none
YML
  tg_receiver_yaml "$work" $ADMIN
  echo "  button_ttl: 10m"
  echo "  grafana_url: http://grafana.example/d/saslguard"
} > "$work/receiver.yml"
tg_receiver_start "$work/receiver.yml" "$port"

webhook() {  # STATUS USER FINGERPRINT
  local ends='0001-01-01T00:00:00Z'
  [ "$1" = resolved ] && ends='2026-11-23T10:00:00Z'
  jq -cn --arg s "$1" --arg e "$ends" --arg u "$2" --arg f "$3" '{
    version:"4", groupKey:"{}:{alertname=\"SaslUserSendingSurge\"}", truncatedAlerts:0, status:$s,
    receiver:"saslguard", externalURL:"http://127.0.0.1:9093",
    groupLabels:{alertname:"SaslUserSendingSurge"}, commonLabels:{}, commonAnnotations:{},
    alerts:[{status:$s, fingerprint:$f, startsAt:"2026-11-23T09:00:00Z", endsAt:$e,
      generatorURL:"http://prometheus/graph",
      labels:{alertname:"SaslUserSendingSurge", severity:"critical", mitigation:"confirm",
              sasl_username:$u},
      annotations:{summary:"eve sends far above her baseline"}}]}' |
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $(cat "$work/webhook_token")" \
    -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/alertmanager"
}

webhook firing eve@example.com f00dfeed12345678
tg_wait_text $ADMIN "incident #1"
msg=$(tg_messages $ADMIN | jq -c '.[0]')
mid=$(jq -r .message_id <<<"$msg")
echo "$msg" | jq .
jq -e '.text | contains("<b>User:</b> <code>eve@example.com</code>")' <<<"$msg" > /dev/null || fail "user missing"
# Links: the alert in Alertmanager's UI, the dashboard (last 6 hours), a prefilled silence form.
jq -e '.text | contains("<a href=\"http://127.0.0.1:9093/#/alerts?silenced=false&amp;inhibited=false&amp;active=true&amp;filter=%7B")' <<<"$msg" > /dev/null \
  || fail "alert link missing: $(jq -r .text <<<"$msg")"
jq -e '.text | contains("\">Alert</a> · <a href=\"http://grafana.example/d/saslguard?") and contains("\">Silence…</a>")' <<<"$msg" > /dev/null \
  || fail "links missing: $(jq -r .text <<<"$msg")"
jq -e '.text | contains("policy.") | not' <<<"$msg" > /dev/null || fail "configuration jargon in the message"
assert_eq "$(jq -c '[.buttons[].text]' <<<"$msg")" \
  '["🚫 Block login","⏸ Hold mail","🔒 Lock account","🗑 Delete queued mail","🔕 Silence 1h","🔕 Silence 4h","🔕 Silence 24h","🙈 Ignore"]' \
  "buttons"
block=$(tg_button $ADMIN "Block login")
[ "${#block}" -le 64 ] || fail "callback data longer than 64 bytes"

tg_press $STRANGER $ADMIN "$mid" "$block"
refusals_are() { [ "$(sqlite3 -cmd '.timeout 5000' "$work/state.db" 'SELECT count(*) FROM telegram_refusals')" = "$1" ]; }
wait_for 10 refusals_are 1 || fail "no refusal recorded"
assert_eq "$(sqlite3 -cmd '.timeout 5000' "$work/state.db" "SELECT user_id, what FROM telegram_refusals")" "666|button block_login" "refusal audit"

tg_press $ADMIN $ADMIN "$mid" "$block"
tg_wait_text $ADMIN "@user1001 (1001): would block login eve@example.com"
assert_eq "$(sqlite3 -cmd '.timeout 5000' "$work/state.db" "SELECT used_by FROM telegram_callbacks WHERE token = '$block'")" \
  "@user1001 (1001)" "button used by the admin"

tg_command $ADMIN $ADMIN "/status"
tg_wait_text $ADMIN "<b>Open incidents:</b> 1"
tg_wait_text $ADMIN "SaslUserSendingSurge <code>eve@example.com</code>"

metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -q '^saslguard_receiver_telegram_callbacks_total{result="handled"} 1$' <<<"$metrics" || fail "handled callbacks metric"
grep -q '^saslguard_receiver_telegram_callbacks_total{result="refused"} 1$' <<<"$metrics" || fail "refused callbacks metric"
grep -q '^saslguard_receiver_telegram_outbox_pending ' <<<"$metrics" || fail "outbox_pending metric"
sent=$(awk '/^saslguard_receiver_telegram_messages_sent_total /{print $2}' <<<"$metrics")
[ "${sent:-0}" -ge 2 ] || fail "messages sent: $sent"

# An attacker-chosen login name: escaped, and (not a valid login) only told about.
webhook firing 'mallory<b>&amp;@example.com' 0badc0de00000001
tg_wait_text $ADMIN "incident #2"
evil=$(tg_messages $ADMIN | jq -c '[.[] | select(.text | contains("incident #2"))][0]')
jq -e '.text | contains("<code>mallory&lt;b&gt;&amp;amp;@example.com</code>")' <<<"$evil" > /dev/null \
  || fail "attacker username not escaped: $(jq -r .text <<<"$evil")"
assert_eq "$(jq -c '[.buttons[].text]' <<<"$evil")" '["🔕 Silence 1h","🔕 Silence 4h","🔕 Silence 24h","🙈 Ignore"]' \
  "an invalid login gets no action buttons"

webhook resolved eve@example.com f00dfeed12345678
tg_wait_text $ADMIN "✅ <b>RESOLVED</b>"
assert_eq "$(tg_messages $ADMIN | jq '[.[] | select(.text | contains("incident #1"))] | length')" 1 \
  "the incident message is edited, not sent again"
assert_eq "$(sqlite3 -cmd '.timeout 5000' "$work/state.db" "SELECT count(*) FROM telegram_outbox WHERE state = 'failed'")" 0 "failed outbox rows"
echo "ok"
