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
#                                 WORK/results (shell variables, see stack_results)
# Knobs (environment): STACK_WARMUP_S (20) normal traffic before the burst,
# STACK_BURST_RATE (10) spam messages/s, STACK_BURST_IPS (40) client addresses,
# STACK_TIMEOUT_S (120) for the block after the burst starts.
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

# _stack_now: Unix time with microseconds, no fork.
_stack_now() { echo "${EPOCHREALTIME/,/.}"; }
_stack_now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }

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
  am_start "$w" am || fail "Alertmanager did not start: $(cat "$w/am/alertmanager.log")"
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

# _stack_say REL_S TEXT: one timeline line (unless STACK_QUIET=1).
_stack_say() {
  [ "${STACK_QUIET:-0}" = 1 ] || printf '  [%7s] %s\n' "$1" "$2"
}
_stack_rel() { python3 -c "import sys; print('%+.1fs' % (float(sys.argv[1]) - float(sys.argv[2])))" "$1" "$2"; }

# stack_normal_traffic: bob, carol and dave each send about one message every
# 4 s from their own address, until killed.
_stack_normal_loop() {
  local i=0 u ip
  trap 'wait; exit 0' TERM
  while :; do
    u=${STACK_USERS[$((i % ${#STACK_USERS[@]}))]}
    ip=127.0.0.$((11 + i % ${#STACK_USERS[@]}))
    pf_send "$STACK_WORK/pf" "$u" "${u%@*}-pw" --local-interface "$ip" >/dev/null 2>&1 &
    i=$((i + 1))
    sleep 1.3
  done
}

# _stack_burst_loop RATE IPS: the spammer, at RATE messages/s from IPS client
# addresses (127.0.0.100…), one swaks per message, until killed.
_stack_burst_loop() {
  local rate=$1 ips=$2 i=0 t0 wait_us
  trap 'wait; exit 0' TERM
  t0=$(_stack_now_us)
  while :; do
    pf_send "$STACK_WORK/pf" "$STACK_SPAMMER" "$STACK_SPAMMER_PASS" \
      --local-interface "127.0.0.$((100 + i % ips))" --to "victim$i@remote.example" >/dev/null 2>&1 &
    i=$((i + 1))
    # Paced on the clock (not sleep 1/rate), so the rate holds however long a fork takes.
    wait_us=$((t0 + i * 1000000 / rate - $(_stack_now_us)))
    [ "$wait_us" -gt 0 ] && sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
  done
}

# _stack_spam_accepted: messages Postfix accepted from the spammer (its client= lines).
_stack_spam_accepted() { grep -c "client=.*, sasl_username=$STACK_SPAMMER\$" "$PF_LOG" || true; }

# _stack_queue_of SENDER: "<hold> <other>" messages of SENDER in the queue.
_stack_queue_of() {
  postqueue -c "$PF_ETC" -j | jq -rs --arg s "$1" \
    '[.[] | select(.sender == $s)] | "\([.[] | select(.queue_name == "hold")] | length) \([.[] | select(.queue_name != "hold")] | length)"'
}

_stack_sql() { sqlite3 -cmd '.timeout 5000' "$STACK_WORK/receiver/state.db" "$1" 2>/dev/null; }

stack_scenario() {
  local w=$1 warmup=${STACK_WARMUP_S:-20} rate=${STACK_BURST_RATE:-10} ips=${STACK_BURST_IPS:-40}
  local timeout=${STACK_TIMEOUT_S:-120}
  pf_env "$w/pf"

  _stack_normal_loop > /dev/null 2>&1 &
  local normal_pid=$!
  cleanup_push "kill $normal_pid 2>/dev/null; wait $normal_pid 2>/dev/null"
  _stack_say "" "normal traffic: ${STACK_USERS[*]} (about 0.25 msg/s each) for ${warmup}s"
  sleep "$warmup"

  local t0
  t0=$(_stack_now)
  _stack_burst_loop "$rate" "$ips" > /dev/null 2>&1 &
  local burst_pid=$!
  cleanup_push "kill $burst_pid 2>/dev/null; wait $burst_pid 2>/dev/null"
  _stack_say "+0.0s" "BURST: $STACK_SPAMMER's password leaked: $rate msg/s from $ips client addresses (127.0.0.100-$((100 + ips - 1)))"

  local t_alert="" t_alert_seen="" t_notify="" t_press="" t_block="" t_hold="" block_actor="" mid="" text=""
  local spam_at_block="" deadline alerts msgs now hold_started_s="" pressed_hold="" t_block_recorded=""
  deadline=$(( $(_stack_now_us) + timeout * 1000000 ))
  while :; do
    now=$(_stack_now)
    [ "$(_stack_now_us)" -lt "$deadline" ] || break
    if [ -z "$t_alert" ]; then
      alerts=$(curl -fsS --max-time 5 "$PROM_URL/api/v1/alerts" 2>/dev/null || true)
      local active
      active=$(printf '%s' "$alerts" | jq -r --arg u "$STACK_SPAMMER" '[.data.alerts[]? | select(.labels.alertname == "SaslUserSendingSurge"
                and .labels.sasl_username == $u and .state == "firing") | .activeAt][0] // empty')
      if [ -n "$active" ]; then
        now=$(_stack_now)
        t_alert=$(python3 -c 'import sys, datetime; print(datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")[:26] + "+00:00").timestamp())' "$active")
        t_alert_seen=$now
        _stack_say "$(_stack_rel "$t_alert" "$t0")" "ALERT: Prometheus fires SaslUserSendingSurge{sasl_username=\"$STACK_SPAMMER\"} (seen at $(_stack_rel "$now" "$t0"))"
      fi
    fi
    # The block before the message: in auto mode the receiver acts, then tells.
    if [ -z "$t_block" ]; then
      local row
      row=$(_stack_sql "SELECT b.created_at, a.actor FROM blocks b JOIN actions a ON a.id = b.action_id
                        WHERE b.kind = 'login' AND b.target = '$STACK_SPAMMER'")
      if [ -n "$row" ]; then
        spam_at_block=$(_stack_spam_accepted)
        t_block=$(_stack_now)
        t_block_recorded=$(python3 -c "print(${row%%|*} / 1000)")
        block_actor=${row#*|}
        _stack_say "$(_stack_rel "$t_block" "$t0")" "BLOCK: $STACK_SPAMMER added to check_sasl_access (actor $block_actor); $spam_at_block spam messages accepted so far"
      fi
    fi
    if [ -z "$t_notify" ]; then
      msgs=$(tg_messages "$STACK_ADMIN" 2>/dev/null || echo '[]')
      mid=$(printf '%s' "$msgs" | jq -r --arg u "$STACK_SPAMMER" '[.[] | select((.text | contains("SaslUserSendingSurge")) and (.text | contains($u)))][0].message_id // empty')
      if [ -n "$mid" ]; then
        t_notify=$(_stack_now)
        text=$(printf '%s' "$msgs" | jq -r --argjson m "$mid" '.[] | select(.message_id == $m) | .text')
        _stack_say "$(_stack_rel "$t_notify" "$t0")" "TELEGRAM: message to admin $STACK_ADMIN:"
        [ "${STACK_QUIET:-0}" = 1 ] || printf '%s\n' "$text" | sed -e 's/<[^>]*>//g' -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g' -e 's/^/              │ /'
      fi
    fi
    # Confirm mode: the admin presses Block login, and Hold mail on the message as
    # edited after the block (each press re-issues the message's buttons).
    if [ "$STACK_MODE" = confirm ] && [ -n "$t_notify" ] && [ -z "$t_press" ]; then
      local block_data
      block_data=$(tg_button "$STACK_ADMIN" "Block login")
      if [ -n "$block_data" ]; then
        t_press=$(_stack_now)
        tg_press "$STACK_ADMIN" "$STACK_ADMIN" "$mid" "$block_data"
        _stack_say "$(_stack_rel "$t_press" "$t0")" "ADMIN: presses 🚫 Block login (Telegram user $STACK_ADMIN)"
      fi
    fi
    if [ "$STACK_MODE" = confirm ] && [ -n "$t_block" ] && [ -z "$pressed_hold" ]; then
      local hold_data
      hold_data=$(tg_button "$STACK_ADMIN" "Hold mail")
      if [ -n "$hold_data" ]; then
        pressed_hold=$(_stack_now)
        tg_press "$STACK_ADMIN" "$STACK_ADMIN" "$mid" "$hold_data"
        _stack_say "$(_stack_rel "$pressed_hold" "$t0")" "ADMIN: presses ⏸ Hold mail"
      fi
    fi
    if [ -n "$t_block" ] && [ -z "$t_hold" ]; then
      local hold_row
      hold_row=$(_stack_sql "SELECT max(coalesce(finished_at, created_at)), min(created_at) FROM actions
                             WHERE kind = 'hold_mail' AND target = '$STACK_SPAMMER' AND state = 'applied'")
      if [ -n "${hold_row%%|*}" ]; then
        t_hold=$(_stack_now)
        hold_started_s=$(( ${hold_row#*|} / 1000 ))
        _stack_say "$(_stack_rel "$t_hold" "$t0")" "HOLD: $STACK_SPAMMER's queued mail put on hold (postsuper -h)"
      fi
    fi
    [ -n "$t_block" ] && [ -n "$t_hold" ] && [ -n "$t_notify" ] && [ -n "$t_alert" ] && break
    sleep 0.25
  done

  # The effect on Postfix, with the spammer still trying for a few seconds.
  local spam_code="" other_code="" held=0 not_held=0 spam_total
  if [ -n "$t_block" ]; then
    sleep 2
    spam_code=$(smtp_code "$w/pf" "$STACK_SPAMMER" "$STACK_SPAMMER_PASS" --local-interface 127.0.0.99)
    other_code=$(smtp_code "$w/pf" "${STACK_USERS[0]}" "${STACK_USERS[0]%@*}-pw" --local-interface 127.0.0.11)
  fi
  kill "$burst_pid" 2>/dev/null; wait "$burst_pid" 2>/dev/null
  kill "$normal_pid" 2>/dev/null; wait "$normal_pid" 2>/dev/null
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
      sed -e 's/<[^>]*>//g' -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&amp;/\&/g' -e 's/^/              │ /'
  fi
  if [ -n "$t_block" ]; then
    _stack_say "" "EFFECT: $STACK_SPAMMER's next submission → $spam_code; ${STACK_USERS[0]} → $other_code; $STACK_SPAMMER's queue: $held on hold, $not_held elsewhere"
  else
    _stack_say "" "NO BLOCK within ${timeout}s of the burst start"
  fi

  cat > "$w/results" <<RES
MODE=$STACK_MODE
T0=$t0
T_ALERT=$(_stack_delta "$t_alert" "$t0")
T_ALERT_SEEN=$(_stack_delta "$t_alert_seen" "$t0")
T_NOTIFY=$(_stack_delta "$t_notify" "$t0")
T_PRESS=$(_stack_delta "$t_press" "$t0")
T_BLOCK=$(_stack_delta "$t_block" "$t0")
T_BLOCK_RECORDED=$(_stack_delta "$t_block_recorded" "$t0")
T_HOLD=$(_stack_delta "$t_hold" "$t0")
ALERT_TO_NOTIFY=$(_stack_delta "$t_notify" "$t_alert")
BLOCK_ACTOR=$block_actor
SPAM_AT_BLOCK=$spam_at_block
SPAM_ACCEPTED=$spam_total
SPAM_HELD=$held
SPAM_NOT_HELD=$not_held
SPAM_MISSED_BY_HOLD=$missed
SPAMMER_CODE=$spam_code
OTHER_CODE=$other_code
RES
}

# _stack_delta A B: A - B in seconds, one decimal; empty when A or B is.
_stack_delta() {
  [ -n "$1" ] && [ -n "$2" ] || return 0
  python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) - float(sys.argv[2])))" "$1" "$2"
}

# stack_figures WORK: the figures of one run, readable.
stack_figures() {
  # shellcheck disable=SC1091
  (. "$1/results"
   echo "  burst start → alert firing (Prometheus activeAt): ${T_ALERT:-never}s"
   echo "  burst start → Telegram message:                   ${T_NOTIFY:-never}s   (alert → message: ${ALERT_TO_NOTIFY:-?}s)"
   [ "$MODE" = confirm ] && echo "  burst start → admin's button press:               ${T_PRESS:-never}s"
   echo "  burst start → login blocked:                      ${T_BLOCK:-never}s   (by ${BLOCK_ACTOR:-nobody})"
   echo "  spam accepted before the block:                   ${SPAM_ACCEPTED:-?} messages ($SPAM_HELD now on hold, $SPAM_NOT_HELD elsewhere in the queue)")
}
