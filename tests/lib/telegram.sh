# shellcheck shell=bash
# The telegram-test-api Bot API emulator for integration scripts and the demo.
#   tg_start DIR            starts it on a free port (TG_PORT, TG_URL), stopped on exit
#   tg_command USER CHAT "/text"      a Telegram user sends a command
#   tg_press USER CHAT MESSAGE_ID DATA a Telegram user presses an inline button
#   tg_messages CHAT        JSON array of what the bot sent to CHAT (edits applied):
#                           [{message_id, time, text, buttons:[{text,data}]}]
#                           (time: when the emulator received the message, Unix ms)
#   tg_wait_text CHAT NEEDLE [TIMEOUT]  waits until a message to CHAT contains NEEDLE
#   tg_button CHAT LABEL    callback_data of the first button whose text contains LABEL
# TG_TOKEN is the bot token the emulator expects (any string works).

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TG_TOKEN=${TG_TOKEN:-123456:TEST-token}

tg_start() {
  local dir=$1
  TG_PORT=$(free_port)
  TG_URL=http://127.0.0.1:$TG_PORT
  node "$SASLGUARD_SOURCE_DIR/tests/lib/telegram-emulator.js" "$TG_PORT" > "$dir/telegram-emulator.log" 2>&1 &
  TG_PID=$!
  cleanup_push "kill $TG_PID 2>/dev/null; wait $TG_PID 2>/dev/null"
  wait_for 20 grep -q "^ready" "$dir/telegram-emulator.log" || fail "telegram emulator did not start"
}

_tg_post() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "$TG_URL$1"; }

tg_command() {
  local user=$1 chat=$2 text=$3 cmdlen
  cmdlen=$(printf '%s' "${text%% *}" | wc -c)
  _tg_post /sendCommand "$(jq -cn --arg t "$TG_TOKEN" --argjson u "$user" --argjson c "$chat" --arg x "$text" \
    --argjson l "$cmdlen" \
    '{botToken:$t, from:{id:$u, is_bot:false, first_name:"U", username:("user"+($u|tostring))},
      chat:{id:$c, type:"private"}, date:1795400000, text:$x,
      entities:[{offset:0, length:$l, type:"bot_command"}]}')" > /dev/null
}

tg_press() {
  local user=$1 chat=$2 mid=$3 data=$4
  _tg_post /sendCallback "$(jq -cn --arg t "$TG_TOKEN" --argjson u "$user" --argjson c "$chat" --argjson m "$mid" \
    --arg d "$data" \
    '{botToken:$t, from:{id:$u, is_bot:false, first_name:"U", username:("user"+($u|tostring))},
      message:{message_id:$m, chat:{id:$c, type:"private"}}, date:1795400000, data:$d}')" > /dev/null
}

tg_messages() {
  local chat=$1
  _tg_post /getUpdatesHistory "$(jq -cn --arg t "$TG_TOKEN" '{token:$t}')" | jq -c --arg c "$chat" '
    [.result[] | select(.message.chat_id != null and (.message.chat_id|tostring) == $c)
     | {message_id: .messageId, time, text: .message.text,
        buttons: [(.message.reply_markup.inline_keyboard // [])[][] | {text, data: .callback_data}]}]'
}

_tg_has_text() { tg_messages "$1" | jq -e --arg n "$2" 'any(.[]; .text | contains($n))' > /dev/null; }
tg_wait_text() { wait_for "${3:-15}" _tg_has_text "$1" "$2" || fail "no Telegram message to $1 containing '$2'"; }

tg_button() { tg_messages "$1" | jq -r --arg l "$2" '[.[].buttons[] | select(.text | contains($l)) | .data][0] // empty'; }

# tg_receiver_yaml WORK ADMIN: prints the prometheus (unreachable: evidence from
# labels only), policy (SaslUserSendingSurge → confirm) and telegram sections of a
# test receiver's config, talking to this emulator with ADMIN as the one admin user
# and chat; writes WORK/bot_token. Telegram is the last section: more of its keys
# may be appended as "  key: value" lines.
tg_receiver_yaml() {
  local work=$1 admin=$2
  printf '%s\n' "$TG_TOKEN" > "$work/bot_token"
  chmod 600 "$work/bot_token"  # the receiver refuses secrets others may read
  cat <<YML
prometheus:
  url: http://127.0.0.1:1
  exporter_url: http://127.0.0.1:1/metrics
  timeout: 500ms
policy:
  modes:
    SaslUserSendingSurge: confirm
telegram:
  enabled: true
  api_url: $TG_URL
  bot_token_file: $work/bot_token
  admin_chat_ids: [$admin]
  admin_user_ids: [$admin]
  poll_timeout: 1s
YML
}

# tg_receiver_start CONFIG PORT: runs saslguard-receiver (RCV_BIN) with CONFIG,
# logging beside it, stopped on exit; waits for its /healthz on PORT.
tg_receiver_start() {
  local cfg=$1 port=$2 pid
  "${RCV_BIN:-$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver}" --config "$cfg" > "${cfg%.yml}.log" 2>&1 &
  pid=$!
  cleanup_push "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
  wait_http "http://127.0.0.1:$port/healthz" 20
}
