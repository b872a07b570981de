#!/usr/bin/env bash
# Fault: the Telegram Bot API is unreachable (connection refused) while incidents
# arrive, then comes back on the same address.
# Expected: webhooks are still answered 200 (Telegram is not on the webhook
# path); the incident messages wait in the persisted outbox as 'pending' with
# their failed attempts and last_error recorded; once the API is back, every one
# is delivered exactly once (one message per incident in the admin chat, every
# outbox row 'sent'). The unit side (429 retry_after, 5xx backoff, timeouts, 401)
# is tests/receiver/telegram_outbox_test.cpp; this is the live daemon + emulator.
set -euo pipefail
# shellcheck source=../lib/telegram.sh
. "$(dirname "$0")/../lib/telegram.sh"

ADMIN=1001
work=$(make_workdir fault-tg)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"

# The emulator on a fixed port, so that it can come back on the same address.
TG_PORT=$(free_port)
TG_URL=http://127.0.0.1:$TG_PORT
emu_start() {
  node "$SASLGUARD_SOURCE_DIR/tests/lib/telegram-emulator.js" "$TG_PORT" > "$work/emulator.log" 2>&1 &
  TG_PID=$!
  wait_for 20 grep -q "^ready" "$work/emulator.log" || fail "telegram emulator did not start"
}
emu_stop() { kill "$TG_PID" 2>/dev/null || true; wait "$TG_PID" 2>/dev/null || true; }
cleanup_push emu_stop

port=$(free_port)
head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$work/webhook_token"
chmod 600 "$work/webhook_token"  # the receiver refuses secrets others may read
{
  cat <<YML
listen_address: 127.0.0.1:$port
state_path: $work/state.db
webhook:
  bearer_token_file: $work/webhook_token
mitigation:
  dry_run: true
  postfix_config_dir: $work
  sasl_access_map: $work/sasl_access
  client_access_map: $work/client_access
  sasl_backend: none
YML
  tg_receiver_yaml "$work" $ADMIN
} > "$work/receiver.yml"
tg_receiver_start "$work/receiver.yml" "$port"   # the API is down from the start
sql() { sqlite3 -cmd ".timeout 5000" "$work/state.db" "$1"; }

webhook() {  # USER FINGERPRINT: prints the HTTP status
  jq -cn --arg u "$1" --arg f "$2" '{
    version:"4", groupKey:"{}:{alertname=\"SaslUserSendingSurge\"}", truncatedAlerts:0, status:"firing",
    receiver:"saslguard", externalURL:"http://127.0.0.1:9093",
    groupLabels:{alertname:"SaslUserSendingSurge"}, commonLabels:{}, commonAnnotations:{},
    alerts:[{status:"firing", fingerprint:$f, startsAt:"2026-11-23T09:00:00Z", endsAt:"0001-01-01T00:00:00Z",
      generatorURL:"http://prometheus/graph",
      labels:{alertname:"SaslUserSendingSurge", severity:"critical", mitigation:"confirm", sasl_username:$u},
      annotations:{summary:"surge"}}]}' |
  curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$work/webhook_token")" \
    -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/alertmanager"
}

for i in 1 2 3; do
  assert_eq "$(webhook "user$i@example.com" "00000000fa17ed0$i")" 200 "webhook $i while Telegram is down"
done
three_failed() { [ "$(sql "SELECT count(*) FROM telegram_outbox WHERE state = 'pending' AND attempts >= 1 AND method = 'sendMessage'")" = 3 ]; }
wait_for 30 three_failed || fail "outbox rows did not record failed attempts: $(sql "SELECT state, attempts, last_error FROM telegram_outbox")"
echo "while down: $(sql "SELECT count(*) || ' pending, last_error: ' || max(last_error) FROM telegram_outbox")"
assert_eq "$(sql "SELECT count(*) FROM telegram_outbox WHERE state = 'failed'")" 0 "rows given up while down"

emu_start
for i in 1 2 3; do tg_wait_text $ADMIN "user$i@example.com" 60; done
all_sent() { [ "$(sql "SELECT count(*) FROM telegram_outbox WHERE state != 'sent'")" = 0 ]; }
wait_for 30 all_sent || fail "outbox not drained: $(sql "SELECT id, state, attempts, last_error FROM telegram_outbox")"
assert_eq "$(tg_messages $ADMIN | jq 'length')" 3 "messages in the admin chat (one per incident)"
for i in 1 2 3; do
  assert_eq "$(tg_messages $ADMIN | jq --arg u "user$i@example.com" '[.[] | select(.text | contains($u))] | length')" 1 \
    "messages naming user$i"
done
echo "after the API returned: 3 incidents delivered once each; attempts: $(sql "SELECT group_concat(attempts) FROM telegram_outbox")"
echo ok
