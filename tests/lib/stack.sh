# shellcheck shell=bash
# The whole saslguard chain on 127.0.0.1, for the end-to-end test, the demo and
# the end-to-end benchmark (one copy, shared by tests/e2e/full_chain_test.sh,
# scripts/demo.sh and bench/e2e/run.sh):
#
#   private Postfix + Cyrus sasldb (tests/lib/postfix.sh: dead relayhost)
#     └─ saslguard-exporter   tails PF_LOG, reads showq at PF_SHOWQ
#          └─ Prometheus      deploy/prometheus.yml with ports rewritten, rules/ as shipped
#               └─ Alertmanager  deploy/alertmanager.yml route, URL/token file rewritten
#                    └─ saslguard-receiver  deploy/receiver.yml with paths rewritten:
#                         mitigation on the private Postfix's maps, Telegram → emulator
#                    └─ telegram-test-api emulator (the admins' side)
#
# Usage (source it, then):
#   stack_start WORK MODE         MODE auto|confirm; starts everything, cleans up on exit
#   stack_scenario WORK           normal traffic, then the spammer's burst; watches the
#                                 chain until the block and hold, checks the effect;
#                                 prints a timeline (STACK_QUIET=1: nothing) and writes
#                                 WORK/results (shell variables, see stack_figures)
#   stack_figures WORK            the figures of WORK/results, readable
# Knobs (environment): STACK_WARMUP_S (20) normal traffic before the burst,
# STACK_BURST_RATE (10) spam messages/s, STACK_BURST_IPS (40) client addresses,
# STACK_TIMEOUT_S (120) for the block after the burst starts.
#
# Every figure is measured at the source: Prometheus's activeAt, Alertmanager's
# log (run at --log.level=debug for that), the receiver's SQLite timestamps, the
# emulator's receive time and Postfix's log — never the moment the scenario's
# poll loop happens to notice, which on a loaded machine can be a minute later.
# The traffic comes from two long-lived senders (tests/lib/smtp_load.py), not a
# client program per message, so the burst holds its rate on a busy machine.
#
# Nothing in the shipped configs is changed but addresses, ports, paths and the
# receiver's policy.modes (confirm mode) and telegram.poll_timeout (the emulator
# answers getUpdates at once instead of long-polling).

_stack_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=postfix.sh
. "$_stack_lib/postfix.sh"
# shellcheck source=prometheus.sh
. "$_stack_lib/prometheus.sh"
# shellcheck source=alertmanager.sh
. "$_stack_lib/alertmanager.sh"
# shellcheck source=telegram.sh
. "$_stack_lib/telegram.sh"
# smtp_code PFDIR USER PASS: the reply code Postfix gives a submission.
# shellcheck source=../receiver/mitigation_lib.sh
. "$_stack_lib/../receiver/mitigation_lib.sh"

STACK_ADMIN=${STACK_ADMIN:-4242}
STACK_SPAMMER=alice@saslguard.test
STACK_SPAMMER_PASS=leaked-password
STACK_USERS=(bob@saslguard.test carol@saslguard.test dave@saslguard.test)
EXPORTER_BIN=${EXPORTER_BIN:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}

# _stack_now_ms: Unix time in milliseconds, no fork.
_stack_now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t / 1000))"; }

# stack_am_config_from_deploy OUT RECEIVER_URL TOKEN_FILE: deploy/alertmanager.yml
# with only the webhook URL and the token file changed (the route, group_wait,
# group_interval as shipped).
stack_am_config_from_deploy() {
  local out=$1 url=$2 token=$3
  sed -e "s|http://127.0.0.1:9755/alertmanager|$url|" \
      -e "s|credentials_file: /etc/saslguard/webhook-token|credentials_file: $token|" \
      "$SASLGUARD_SOURCE_DIR/deploy/alertmanager.yml" > "$out"
  grep -q "$url" "$out" && grep -q "credentials_file: $token" "$out" ||
    fail "deploy/alertmanager.yml changed shape"
}

# stack_receiver_config_from_deploy OUT MODE: deploy/receiver.yml with listen
# address, state, token, Prometheus/exporter URLs, the private Postfix's maps,
# queue, log and sasldb, and Telegram → emulator. Uses STACK_* and PF_* variables.
stack_receiver_config_from_deploy() {
  local out=$1 mode=$2
  python3 - "$SASLGUARD_SOURCE_DIR/deploy/receiver.yml" "$out" "$mode" <<PY
import sys, yaml
src, out, mode = sys.argv[1:]
c = yaml.safe_load(open(src))
c["listen_address"] = "127.0.0.1:$STACK_RCV_PORT"
c["state_path"] = "$STACK_WORK/receiver/state.db"
c["webhook"]["bearer_token_file"] = "$STACK_WORK/receiver/webhook-token"
c["prometheus"]["url"] = "$PROM_URL"
c["prometheus"]["exporter_url"] = "http://127.0.0.1:$STACK_EXP_PORT/metrics"
c["mitigation"].update({
    "postfix_config_dir": "$PF_ETC", "sasl_access_map": "$PF_SASL_ACCESS",
    "client_access_map": "$PF_CLIENT_ACCESS", "showq_path": "$PF_SHOWQ",
    "sasldb_path": "$PF_SASLDB",
    "postfix_bin_dir": "$(dirname "$(command -v postsuper)")"})
c["telegram"].update({
    "enabled": True, "api_url": "$TG_URL",
    "bot_token_file": "$STACK_WORK/receiver/telegram-bot-token",
    "admin_chat_ids": [$STACK_ADMIN], "admin_user_ids": [$STACK_ADMIN],
    "poll_timeout": "1s", "alertmanager_url": "$STACK_AM_URL"})
if mode == "confirm":
    c["policy"]["modes"] = {"SaslUserSendingSurge": "confirm"}
elif mode != "auto":
    sys.exit("stack: mode must be auto or confirm, not %r" % mode)
yaml.safe_dump(c, open(out, "w"), sort_keys=False)
PY
}

stack_start() {
  STACK_WORK=$1
  STACK_MODE=$2
  local w=$STACK_WORK
  [ -x "$EXPORTER_BIN" ] || fail "no $EXPORTER_BIN: build saslguard-exporter first"
  [ -x "$RCV_BIN" ] 2>/dev/null || RCV_BIN=$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver
  [ -x "$RCV_BIN" ] || fail "no $RCV_BIN: build saslguard-receiver first"

  # Postfix with the spammer-to-be and three normal users.
  pf_create "$w/pf"
  cleanup_push "pf_stop '$w/pf'"
  pf_add_user "$w/pf" "$STACK_SPAMMER" "$STACK_SPAMMER_PASS"
  local u
  for u in "${STACK_USERS[@]}"; do pf_add_user "$w/pf" "$u" "${u%@*}-pw"; done
  pf_start "$w/pf" || fail "private Postfix did not start"
  pf_env "$w/pf"

  # The admins' Telegram.
  tg_start "$w"

  # Exporter: from the end of the log, like the daemon in production.
  STACK_EXP_PORT=$(free_port)
  "$EXPORTER_BIN" --web.listen-address="127.0.0.1:$STACK_EXP_PORT" --log.path="$PF_LOG" \
    --showq.path="$PF_SHOWQ" > "$w/exporter.log" 2>&1 &
  cleanup_push "kill $! 2>/dev/null; wait $! 2>/dev/null"
  wait_http "http://127.0.0.1:$STACK_EXP_PORT/metrics" 20 || fail "exporter did not start: $(cat "$w/exporter.log")"

  # Receiver's port and secrets first: Alertmanager and Prometheus name it.
  mkdir -p "$w/receiver"
  STACK_RCV_PORT=$(free_port)
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$w/receiver/webhook-token"
  printf '%s\n' "$TG_TOKEN" > "$w/receiver/telegram-bot-token"
  chmod 600 "$w/receiver/webhook-token" "$w/receiver/telegram-bot-token"

  # Alertmanager with the shipped route (am_create makes the dirs and ports).
  am_create "$w" am "unused" "unused"
  stack_am_config_from_deploy "$w/am/alertmanager.yml" \
    "http://127.0.0.1:$STACK_RCV_PORT/alertmanager" "$w/receiver/webhook-token"
  AM_LOG_LEVEL=debug am_start "$w" am || fail "Alertmanager did not start: $(cat "$w/am/alertmanager.log")"
  STACK_AM_URL=$(am_url "$w" am)

  # Prometheus with the shipped config and rules.
  prom_config_from_deploy "$w/prometheus.yml" "127.0.0.1:$STACK_EXP_PORT" \
    "127.0.0.1:$STACK_RCV_PORT" "${STACK_AM_URL#http://}"
  prom_start "$w/prom" "$w/prometheus.yml" || fail "Prometheus did not start"

  # Receiver.
  stack_receiver_config_from_deploy "$w/receiver/receiver.yml" "$STACK_MODE"
  tg_receiver_start "$w/receiver/receiver.yml" "$STACK_RCV_PORT" ||
    fail "receiver did not start: $(cat "$w/receiver/receiver.log")"

  prom_wait_targets_up 30 saslguard-exporter || fail "Prometheus does not scrape the exporter"
  cat > "$w/stack.env" <<ENV
STACK_MODE=$STACK_MODE
PROM_URL=$PROM_URL
STACK_AM_URL=$STACK_AM_URL
STACK_EXPORTER_URL=http://127.0.0.1:$STACK_EXP_PORT/metrics
STACK_RECEIVER_URL=http://127.0.0.1:$STACK_RCV_PORT
TG_URL=$TG_URL
ENV
}

# _stack_say REL TEXT: one timeline line (unless STACK_QUIET=1).
_stack_say() {
  [ "${STACK_QUIET:-0}" = 1 ] || printf '  [%8s] %s\n' "$1" "$2"
}
# _stack_rel MS: "+12.3s", MS (Unix milliseconds) relative to the burst start.
_stack_rel() { _stack_sec "$1" "$STACK_T0_MS" "%+.1fs"; }
# _stack_sec A_MS B_MS [FORMAT]: (A - B) in seconds, one decimal (awk: no
# interpreter start); empty when A or B is.
_stack_sec() {
  [ -n "$1" ] && [ -n "$2" ] || return 0
  awk -v a="$1" -v b="$2" -v f="${3:-%.1f}" 'BEGIN { printf f, (a - b) / 1000 }'
}

# _stack_load NAME RATE IP_BASE IP_COUNT RCPT CREDENTIALS: one long-lived
# paced sender (tests/lib/smtp_load.py) on the submission port, logging to
# WORK/NAME.log; stopped on exit.
_stack_load() {
  local name=$1 rate=$2 base=$3 count=$4 rcpt=$5 creds=$6
  printf '%b' "$creds" | python3 "$_stack_lib/smtp_load.py" "$PF_SUBMISSION_PORT" "$rate" "$base" "$count" \
    "$rcpt" "$STACK_WORK/$name.log" > "$STACK_WORK/$name.out" 2>&1 &
  echo $! > "$STACK_WORK/$name.pid"
  cleanup_push "_stack_load_stop $name"
}
_stack_load_stop() {
  local pidfile=$STACK_WORK/$1.pid
  [ -f "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  wait "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

# _stack_spam_accepted: messages Postfix accepted from the spammer (its client= lines).
_stack_spam_accepted() { grep -c "client=.*, sasl_username=$STACK_SPAMMER\$" "$PF_LOG" || true; }

# _stack_queue_of SENDER: "<hold> <other>" messages of SENDER in the queue.
_stack_queue_of() {
  postqueue -c "$PF_ETC" -j | jq -rs --arg s "$1" \
    '[.[] | select(.sender == $s)] | "\([.[] | select(.queue_name == "hold")] | length) \([.[] | select(.queue_name != "hold")] | length)"'
}

_stack_sql() { sqlite3 -cmd '.timeout 5000' "$STACK_WORK/receiver/state.db" "$1" 2>/dev/null; }

# jq: an RFC 3339 UTC time with any number of fraction digits → Unix milliseconds.
_STACK_JQ_MS='def ms: capture("^(?<s>[^.Z]+)(\\.(?<f>[0-9]+))?Z$") | ((.s + "Z" | fromdateiso8601) * 1000
               + ((("0." + (.f // "0")) | tonumber) * 1000) | floor);'

# _stack_alert_active_ms: Prometheus's activeAt of the spammer's firing
# SaslUserSendingSurge, in Unix ms (empty while there is none).
_stack_alert_active_ms() {
  curl -fsS --max-time 5 "$PROM_URL/api/v1/alerts" 2>/dev/null |
    jq -r --arg u "$STACK_SPAMMER" "$_STACK_JQ_MS"' [.data.alerts[]? | select(.labels.alertname == "SaslUserSendingSurge"
          and .labels.sasl_username == $u and .state == "firing") | .activeAt | ms][0] // empty' 2>/dev/null
}

# _stack_message: "<emulator's receive time, Unix ms> <message_id>" of the first
# bot message to the admin naming the spammer's SaslUserSendingSurge (empty while none).
_stack_message() {
  tg_messages "$STACK_ADMIN" 2>/dev/null | jq -r --arg u "$STACK_SPAMMER" \
    '[.[] | select((.text | contains("SaslUserSendingSurge")) and (.text | contains($u)))][0]
     | select(. != null) | "\(.time) \(.message_id)"' 2>/dev/null
}

# _stack_block: "<ms> <actor>" of the spammer's login block as the receiver
# recorded it (empty while none). The mitigation audit (actions) keeps whole
# seconds; the worker's own record of an automatic action (incident_actions)
# has milliseconds and is preferred when there is one.
_stack_block() {
  local row ms
  row=$(_stack_sql "SELECT a.finished_at, a.actor FROM blocks b JOIN actions a ON a.id = b.action_id
                    WHERE b.kind = 'login' AND b.target = '$STACK_SPAMMER' AND a.finished_at IS NOT NULL")
  [ -n "$row" ] || return 0
  ms=$(_stack_sql "SELECT min(ia.finished_at) FROM incident_actions ia JOIN incidents i ON i.id = ia.incident_id
                   WHERE ia.kind = 'block_login' AND ia.state = 'done' AND i.username = '$STACK_SPAMMER'")
  echo "${ms:-${row%%|*}} ${row#*|}"
}

# _stack_am_ms REGEX: Unix ms of the first Alertmanager log line matching REGEX
# (the stack runs it at --log.level=debug: "Received alert", "flushing", "Notify success").
_stack_am_ms() {
  local ts
  ts=$(grep -m1 -E -- "$1" "$STACK_WORK/am/alertmanager.log" 2>/dev/null | sed -nE 's/^ts=([^ ]+) .*/\1/p')
  [ -n "$ts" ] && date -d "$ts" +%s%3N
}

stack_scenario() {
  local w=$1 warmup=${STACK_WARMUP_S:-20} rate=${STACK_BURST_RATE:-10} ips=${STACK_BURST_IPS:-40}
  local timeout=${STACK_TIMEOUT_S:-120} u creds=""
  pf_env "$w/pf"

  for u in "${STACK_USERS[@]}"; do creds+="$u\t${u%@*}-pw\n"; done
  # bob, carol and dave in turn, each from its own address, one message every 1.3 s.
  _stack_load normal 0.77 127.0.0.11 "${#STACK_USERS[@]}" "friend{n}@remote.example" "$creds"
  _stack_say "" "normal traffic: ${STACK_USERS[*]} (about 0.25 msg/s each) for ${warmup}s"
  sleep "$warmup"

  STACK_T0_MS=$(_stack_now_ms)
  local t0=$STACK_T0_MS
  _stack_load burst "$rate" 127.0.0.100 "$ips" "victim{n}@remote.example" "$STACK_SPAMMER\t$STACK_SPAMMER_PASS\n"
  _stack_say "+0.0s" "BURST: $STACK_SPAMMER's password leaked: $rate msg/s from $ips client addresses (127.0.0.100-$((100 + ips - 1)))"

  # Each event's time is what the daemon that made it recorded (Prometheus's
  # activeAt, the receiver's database, the emulator's receive time), not when
  # this loop noticed it: the loop's own speed does not enter any figure.
  local t_alert="" t_notify="" t_press="" t_block="" t_hold="" block_actor="" mid="" text=""
  local hold_started_s="" pressed_hold="" seen_alert="" seen_notify="" seen_block="" deadline r
  deadline=$((t0 + timeout * 1000))
  while [ "$(_stack_now_ms)" -lt "$deadline" ]; do
    if [ -z "$t_alert" ]; then
      t_alert=$(_stack_alert_active_ms)
      if [ -n "$t_alert" ]; then
        seen_alert=$(_stack_now_ms)
        _stack_say "$(_stack_rel "$t_alert")" "ALERT: Prometheus fires SaslUserSendingSurge{sasl_username=\"$STACK_SPAMMER\"} (activeAt)"
      fi
    fi
    # The block before the message: in auto mode the receiver acts, then tells.
    if [ -z "$t_block" ]; then
      r=$(_stack_block)
      if [ -n "$r" ]; then
        seen_block=$(_stack_now_ms)
        t_block=${r%% *}
        block_actor=${r#* }
        _stack_say "$(_stack_rel "$t_block")" "BLOCK: $STACK_SPAMMER added to check_sasl_access (actor $block_actor, receiver's record)"
      fi
    fi
    if [ -z "$t_notify" ]; then
      r=$(_stack_message)
      if [ -n "$r" ]; then
        seen_notify=$(_stack_now_ms)
        t_notify=${r%% *}
        mid=${r#* }
        _stack_say "$(_stack_rel "$t_notify")" "TELEGRAM: message to admin $STACK_ADMIN (received by the emulator):"
        if [ "${STACK_QUIET:-0}" != 1 ]; then
          text=$(tg_messages "$STACK_ADMIN" | jq -r --argjson m "$mid" '.[] | select(.message_id == $m) | .text')
          printf '%s\n' "$text" | sed -e 's/<[^>]*>//g' -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g' -e 's/^/               │ /'
        fi
      fi
    fi
    # Confirm mode: the admin presses Block login, and Hold mail on the message as
    # edited after the block (each press re-issues the message's buttons).
    if [ "$STACK_MODE" = confirm ] && [ -n "$t_notify" ] && [ -z "$t_press" ]; then
      local block_data
      block_data=$(tg_button "$STACK_ADMIN" "Block login")
      if [ -n "$block_data" ]; then
        t_press=$(_stack_now_ms)
        tg_press "$STACK_ADMIN" "$STACK_ADMIN" "$mid" "$block_data"
        _stack_say "$(_stack_rel "$t_press")" "ADMIN: presses 🚫 Block login (Telegram user $STACK_ADMIN)"
      fi
    fi
    if [ "$STACK_MODE" = confirm ] && [ -n "$t_block" ] && [ -z "$pressed_hold" ]; then
      local hold_data
      hold_data=$(tg_button "$STACK_ADMIN" "Hold mail")
      if [ -n "$hold_data" ]; then
        pressed_hold=$(_stack_now_ms)
        tg_press "$STACK_ADMIN" "$STACK_ADMIN" "$mid" "$hold_data"
        _stack_say "$(_stack_rel "$pressed_hold")" "ADMIN: presses ⏸ Hold mail"
      fi
    fi
    if [ -n "$t_block" ] && [ -z "$t_hold" ]; then
      local hold_row
      hold_row=$(_stack_sql "SELECT max(coalesce(finished_at, created_at)), min(created_at) FROM actions
                             WHERE kind = 'hold_mail' AND target = '$STACK_SPAMMER' AND state = 'applied'")
      if [ -n "${hold_row%%|*}" ]; then
        t_hold=${hold_row%%|*}
        hold_started_s=$(( ${hold_row#*|} / 1000 ))
        _stack_say "$(_stack_rel "$t_hold")" "HOLD: $STACK_SPAMMER's queued mail put on hold (postsuper -h)"
      fi
    fi
    [ -n "$t_block" ] && [ -n "$t_hold" ] && [ -n "$t_notify" ] && [ -n "$t_alert" ] && break
    sleep 0.5
  done

  # The effect on Postfix, with the spammer still trying for a few seconds.
  local spam_code="" other_code="" held=0 not_held=0 spam_total
  if [ -n "$t_block" ]; then
    sleep 2
    spam_code=$(smtp_code "$w/pf" "$STACK_SPAMMER" "$STACK_SPAMMER_PASS" --local-interface 127.0.0.99)
    other_code=$(smtp_code "$w/pf" "${STACK_USERS[0]}" "${STACK_USERS[0]%@*}-pw" --local-interface 127.0.0.11)
  fi
  _stack_load_stop burst
  _stack_load_stop normal
  spam_total=$(_stack_spam_accepted)
  read -r held not_held < <(_stack_queue_of "$STACK_SPAMMER")
  # Not held although queued before the hold started (the hold missed it): must be 0.
  # Messages still in their SMTP session when the hold ran arrive after it and are
  # not held; they are counted in not_held, not here.
  local missed=0
  [ -n "$hold_started_s" ] && missed=$(postqueue -c "$PF_ETC" -j | jq -s --arg s "$STACK_SPAMMER" --argjson t "$hold_started_s" \
    '[.[] | select(.sender == $s and .queue_name != "hold" and .arrival_time < $t)] | length')
  if [ -n "$mid" ] && [ "${STACK_QUIET:-0}" != 1 ]; then
    _stack_say "" "TELEGRAM: the incident message now reads:"
    tg_messages "$STACK_ADMIN" | jq -r --argjson m "$mid" '.[] | select(.message_id == $m) | .text, "buttons: " + ([.buttons[].text] | join(" | "))' |
      sed -e 's/<[^>]*>//g' -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g' -e 's/^/               │ /'
  fi
  if [ -n "$t_block" ]; then
    _stack_say "" "EFFECT: $STACK_SPAMMER's next submission → $spam_code; ${STACK_USERS[0]} → $other_code; $STACK_SPAMMER's queue: $held on hold, $not_held elsewhere"
  else
    _stack_say "" "NO BLOCK within ${timeout}s of the burst start"
  fi

  # The hops between the alert and the message, each as its daemon recorded it.
  local t_am_rx="" t_am_flush="" t_am_ok="" t_webhook="" t_sent="" burst_sent burst_span
  if [ -n "$t_alert" ]; then
    t_am_rx=$(_stack_am_ms 'msg="Received alert" alert=SaslUserSendingSurge\[')
    t_am_flush=$(_stack_am_ms "aggrGroup=.*alertname=..SaslUserSendingSurge.*sasl_username=..$STACK_SPAMMER.* msg=flushing")
    [ -n "$t_am_flush" ] && t_am_ok=$(awk -v f="$t_am_flush" '/msg="Notify success"/ && /integration=webhook/ {
        ts = $1; sub(/^ts=/, "", ts); print ts }' "$w/am/alertmanager.log" |
      while read -r ts; do m=$(date -d "$ts" +%s%3N); [ "$m" -ge "$t_am_flush" ] && { echo "$m"; break; }; done)
    t_webhook=$(_stack_sql "SELECT min(received_at) FROM alerts WHERE alertname = 'SaslUserSendingSurge'
                            AND json_extract(labels, '\$.sasl_username') = '$STACK_SPAMMER' AND status = 'firing'")
    t_sent=$(_stack_sql "SELECT min(o.sent_at) FROM telegram_outbox o JOIN incidents i ON i.id = o.incident_id
                         WHERE o.method = 'sendMessage' AND i.username = '$STACK_SPAMMER' AND i.alertname = 'SaslUserSendingSurge'")
  fi
  burst_sent=$(wc -l < "$w/burst.log" 2>/dev/null || echo 0)
  burst_span=$(awk 'NR == 1 || $2 < a { a = $2 } $2 > b { b = $2 } END { if (NR > 1) printf "%.1f", b - a }' "$w/burst.log" 2>/dev/null)
  if [ "${STACK_QUIET:-0}" != 1 ] && [ -n "$t_alert" ]; then
    _stack_say "" "WHERE THE TIME WENT (daemons' own timestamps, seconds after Prometheus's activeAt):"
    _stack_say "" "  Alertmanager received the alert +$(_stack_sec "$t_am_rx" "$t_alert"), flushed the group +$(_stack_sec "$t_am_flush" "$t_alert"), webhook answered +$(_stack_sec "$t_am_ok" "$t_alert")"
    _stack_say "" "  receiver stored it +$(_stack_sec "$t_webhook" "$t_alert"), blocked +$(_stack_sec "$t_block" "$t_alert"), sendMessage done +$(_stack_sec "$t_sent" "$t_alert"), emulator got it +$(_stack_sec "$t_notify" "$t_alert")"
    _stack_say "" "  (this script noticed the alert +$(_stack_sec "$seen_alert" "$t_alert"), the block +$(_stack_sec "$seen_block" "$t_block") and the message +$(_stack_sec "$seen_notify" "$t_notify") after they happened)"
  fi

  cat > "$w/results" <<RES
MODE=$STACK_MODE
T0_MS=$t0
T_ALERT=$(_stack_sec "$t_alert" "$t0")
T_AM_RECEIVED=$(_stack_sec "$t_am_rx" "$t0")
T_AM_FLUSH=$(_stack_sec "$t_am_flush" "$t0")
T_AM_NOTIFIED=$(_stack_sec "$t_am_ok" "$t0")
T_WEBHOOK=$(_stack_sec "$t_webhook" "$t0")
T_SENDMESSAGE=$(_stack_sec "$t_sent" "$t0")
T_NOTIFY=$(_stack_sec "$t_notify" "$t0")
T_PRESS=$(_stack_sec "$t_press" "$t0")
T_BLOCK=$(_stack_sec "$t_block" "$t0")
T_HOLD=$(_stack_sec "$t_hold" "$t0")
ALERT_TO_WEBHOOK=$(_stack_sec "$t_webhook" "$t_alert")
WEBHOOK_TO_NOTIFY=$(_stack_sec "$t_notify" "$t_webhook")
ALERT_TO_NOTIFY=$(_stack_sec "$t_notify" "$t_alert")
SEEN_LAG_ALERT=$(_stack_sec "$seen_alert" "$t_alert")
SEEN_LAG_NOTIFY=$(_stack_sec "$seen_notify" "$t_notify")
SEEN_LAG_BLOCK=$(_stack_sec "$seen_block" "$t_block")
BLOCK_ACTOR=$block_actor
BURST_SENT=$burst_sent
BURST_SPAN_S=$burst_span
SPAM_ACCEPTED=$spam_total
SPAM_HELD=$held
SPAM_NOT_HELD=$not_held
SPAM_MISSED_BY_HOLD=$missed
SPAMMER_CODE=$spam_code
OTHER_CODE=$other_code
RES
}

# stack_figures WORK: the figures of one run, readable. Every time is the
# recording daemon's own, relative to the burst start.
stack_figures() {
  # shellcheck disable=SC1091
  (. "$1/results"
   echo "  burst start → alert firing (Prometheus activeAt):  ${T_ALERT:-never}s"
   echo "  burst start → Telegram message (emulator received): ${T_NOTIFY:-never}s   (alert → message: ${ALERT_TO_NOTIFY:-?}s; alert → webhook stored: ${ALERT_TO_WEBHOOK:-?}s)"
   [ "$MODE" = confirm ] && echo "  burst start → admin's button press:                ${T_PRESS:-never}s"
   echo "  burst start → login blocked (receiver's record):    ${T_BLOCK:-never}s   (by ${BLOCK_ACTOR:-nobody})"
   echo "  spam accepted before the block:                     ${SPAM_ACCEPTED:-?} messages ($SPAM_HELD now on hold, $SPAM_NOT_HELD elsewhere in the queue; $BURST_SENT attempted in ${BURST_SPAN_S:-?}s)")
}
