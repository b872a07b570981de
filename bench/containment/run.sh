#!/usr/bin/env bash
# Benchmark: SMTP-time containment (docs/policy-service.md). The whole chain of
# tests/lib/stack.sh with Postfix's own smtp-sink as the relayhost (deliveries
# really happen), a leaked password spamming at 10 msg/s from 40 addresses,
# run twice in the same command:
#
#   baseline  guard OFF: today's path (exporter → Prometheus → Alertmanager →
#             receiver → postmap), auto mode;
#   guard     guard ON: the receiver's SMTP policy service with the shipped
#             defaults (20 messages/min), the same auto mode behind it.
#
# For each: spam delivered to the sink before containment (goal ≤ 20) and the
# time from the burst's start to containment (goal ≤ 5 s): the guard's trip
# (the receiver's log line) with the guard on, the login block (the receiver's
# record) with it off. Then, on the guard run's stack, a legitimate bulk sender
# (news@) sends 40 messages in a row: the guard holds those past the 20th, the
# admin presses Release mail once in Telegram, and every message must reach the
# sink exactly once.
#
#   bench/containment/run.sh
# Needs root, the dependencies (scripts/install-deps.sh) and built binaries
# (SASLGUARD_BUILD_DIR, default build/). About 4 minutes.
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../e2e/lib.sh
. "$here/../e2e/lib.sh"

BULK_USER=news@saslguard.test
BULK_N=${BULK_N:-40}
export STACK_RELAY=sink

out=$(make_workdir containment-bench)
cleanup_push "rm -rf '$out'"

# bulk_release WORK: the legitimate bulk sender on the running stack; appends
# BULK_* figures to WORK/results.
bulk_release() {
  local w=$1 i held mid data subjects n_once n_dup t_press t_done
  pf_env "$w/pf"
  pf_add_user "$w/pf" "$BULK_USER" news-pw
  for i in $(seq 1 "$BULK_N"); do
    swaks --server 127.0.0.1 --port "$PF_SUBMISSION_PORT" --auth PLAIN --auth-user "$BULK_USER" \
      --auth-password news-pw --from "$BULK_USER" --to "reader$i@remote.example" \
      --header "Subject: newsletter $i" --hide-all > /dev/null 2>&1 || echo "bulk message $i refused" >&2
  done
  _bulk_held() { postqueue -c "$PF_ETC" -j | jq -s --arg s "$BULK_USER" '[.[] | select(.sender == $s and .queue_name == "hold")] | length'; }
  _bulk_msg() {
    tg_messages "$STACK_ADMIN" | jq -r --arg u "$BULK_USER" \
      '[.[] | select((.text | contains("SaslUserSendingGuard")) and (.text | contains($u)))][0].message_id // empty'
  }
  _bulk_button() {
    tg_messages "$STACK_ADMIN" | jq -r --argjson m "$1" \
      '[.[] | select(.message_id == $m) | .buttons[] | select(.text | contains("Release mail")) | .data][0] // empty'
  }
  _bulk_has_button() { [ -n "$(_bulk_button "$1")" ]; }
  _bulk_has_msg() { [ -n "$(_bulk_msg)" ]; }
  wait_for 60 _bulk_has_msg || { echo "BULK: no Telegram message for $BULK_USER" >&2; return 1; }
  mid=$(_bulk_msg)
  wait_for 30 _bulk_has_button "$mid" || { echo "BULK: no Release mail button" >&2; return 1; }
  held=$(_bulk_held)
  data=$(_bulk_button "$mid")
  t_press=$(date +%s%3N)
  tg_press "$STACK_ADMIN" "$STACK_ADMIN" "$mid" "$data"
  _bulk_all() { [ "$(grep -l -F "From: $BULK_USER" "$PF_SINK_DIR"/msg.* 2>/dev/null | wc -l)" -ge "$BULK_N" ]; }
  wait_for 120 _bulk_all || true
  t_done=$(date +%s%3N)
  sleep 5 # a duplicate would arrive late
  subjects=$(grep -l -F "From: $BULK_USER" "$PF_SINK_DIR"/msg.* 2>/dev/null | xargs -r grep -h '^Subject: newsletter' | sort)
  n_once=$(printf '%s\n' "$subjects" | grep -c . || true)
  n_dup=$(printf '%s\n' "$subjects" | uniq -d | grep -c . || true)
  {
    echo "BULK_SENT=$BULK_N"
    echo "BULK_HELD=$held"
    echo "BULK_AT_SINK=$n_once"
    echo "BULK_DISTINCT=$(printf '%s\n' "$subjects" | sort -u | grep -c . || true)"
    echo "BULK_DUPLICATES=$n_dup"
    echo "BULK_STILL_HELD=$(_bulk_held)"
    echo "BULK_PRESS_TO_DELIVERED_S=$(awk -v a="$t_press" -v b="$t_done" 'BEGIN { printf "%.1f", (b - a) / 1000 }')"
  } >> "$w/results"
}

run_one() { # NAME GUARD
  local name=$1 guard=$2
  ( _cleanups=()
    work=$(make_workdir containment-run)
    cleanup_push "rm -rf '$work'"
    STACK_GUARD=$guard STACK_QUIET=1 stack_start "$work" auto > "$out/start-$name.log" 2>&1 ||
      { echo "$name: the chain did not start: $(tail -3 "$out/start-$name.log")"; exit 1; }
    STACK_GUARD=$guard STACK_QUIET=1 stack_scenario "$work" > "$out/scenario-$name.log" 2>&1 || true
    # The first spam Postfix accepted (smtp_load.py's own record: n start end code user).
    first=$(awk '$4 == 250 && (f == "" || $3 < f) { f = $3 } END { if (f != "") printf "%.0f", f * 1000 }' "$work/burst.log")
    echo "T_FIRST_SPAM_MS=$first" >> "$work/results"
    if [ "$guard" = 1 ]; then bulk_release "$work" > "$out/bulk.log" 2>&1 || cat "$out/bulk.log"; fi
    cp "$work/results" "$out/$name" )
}

echo "containment benchmark: burst ${STACK_BURST_RATE:-10} msg/s from ${STACK_BURST_IPS:-40} addresses, smtp-sink relay, auto mode"
run_one baseline 0 || true
run_one guard 1 || true

fig() { [ -f "$out/$1" ] && sed -n "s/^$2=//p" "$out/$1" | tail -1; }
b_deliv=$(fig baseline SPAM_DELIVERED); g_deliv=$(fig guard SPAM_DELIVERED)
# Seconds from the first spam Postfix accepted to containment (T_* are seconds after T0_MS).
since_first() { # NAME KEY
  local t0 first t
  t0=$(fig "$1" T0_MS); first=$(fig "$1" T_FIRST_SPAM_MS); t=$(fig "$1" "$2")
  [ -n "$t0" ] && [ -n "$first" ] && [ -n "$t" ] && awk -v a="$t0" -v f="$first" -v t="$t" 'BEGIN { printf "%.1f", (a + t * 1000 - f) / 1000 }'
}
b_time=$(since_first baseline T_BLOCK); g_time=$(since_first guard T_GUARD)
ok=1
echo
printf '  %-52s %12s %12s %8s\n' "" "guard OFF" "guard ON" goal
printf '  %-52s %12s %12s %8s\n' "spam delivered to the sink before containment" "${b_deliv:--}" "${g_deliv:--}" "≤ 20"
printf '  %-52s %11ss %11ss %8s\n' "first spam accepted → containment" "${b_time:--}" "${g_time:--}" "≤ 5 s"
echo "  (containment: OFF the login block, the receiver's record; ON the guard's trip, the receiver's log)"
printf '  %-52s %11ss %11ss\n' "burst start → containment" "$(fig baseline T_BLOCK)" "$(fig guard T_GUARD)"
printf '  %-52s %12s %12s\n' "spam accepted by Postfix during the run" "$(fig baseline SPAM_ACCEPTED)" "$(fig guard SPAM_ACCEPTED)"
printf '  %-52s %12s %12s\n' "spam on hold at the end" "$(fig baseline SPAM_HELD)" "$(fig guard SPAM_HELD)"
printf '  %-52s %11ss %11ss\n' "burst start → login blocked" "$(fig baseline T_BLOCK)" "$(fig guard T_BLOCK)"
if [ -n "$b_deliv" ] && [ -n "$g_deliv" ] && [ "$b_deliv" -gt 0 ]; then
  echo "  ratio delivered ON/OFF: $(awk -v a="$g_deliv" -v b="$b_deliv" 'BEGIN { printf "%.3f", a / b }')"
fi
[ -n "$g_deliv" ] && [ "$g_deliv" -le 20 ] || ok=0
awk -v t="${g_time:-999}" 'BEGIN { exit !(t <= 5) }' || ok=0
echo
echo "legitimate bulk sender ($BULK_USER, $BULK_N messages in a row, guard ON):"
echo "  held by the guard: $(fig guard BULK_HELD); after one Release mail press: $(fig guard BULK_AT_SINK) at the sink," \
  "$(fig guard BULK_DISTINCT) distinct, $(fig guard BULK_DUPLICATES) duplicated, $(fig guard BULK_STILL_HELD) still held;" \
  "press → all delivered $(fig guard BULK_PRESS_TO_DELIVERED_S) s"
[ "$(fig guard BULK_DISTINCT)" = "$BULK_N" ] && [ "$(fig guard BULK_AT_SINK)" = "$BULK_N" ] &&
  [ "$(fig guard BULK_DUPLICATES)" = 0 ] && [ "$(fig guard BULK_HELD)" -gt 0 ] || ok=0
[ "$ok" = 1 ] && echo "containment benchmark: goals met" || { echo "containment benchmark: a goal was missed"; exit 1; }
