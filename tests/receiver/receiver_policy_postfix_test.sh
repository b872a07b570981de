#!/usr/bin/env bash
# Live: saslguard-receiver's own SMTP policy service (smtp_policy.enabled)
# against a private Postfix whose check_policy_service points at the REAL
# receiver, with smtp-sink as the relayhost (deliveries really happen), Cyrus
# sasldb, saslguardctl and the Telegram emulator for the admins.
#
#   0. the receiver starts the service; its metrics exist at zero (promtool lints them);
#   1. a normal user is answered DUNNO and delivered;
#   2. with check_sasl_access NOT wired in Postfix, a login blocked through the
#      receiver (Telegram /block, in-process; saslguardctl, another process) is
#      refused 554 by the service; how long each block took to reach it is
#      printed from the daemons' own records;
#   3. the guard holds a burst past its limit (hold queue, not the sink) and not
#      another user; admins get one message with Release held mail, Block login,
#      Delete queued mail; the held queue ids are recorded against the incident;
#   4. a later Prometheus-style alert for the same user joins that incident
#      (one incident row, one Telegram message);
#   5. Release held mail (emulator press): every held message reaches the sink exactly
#      once, the incident closes, and the released sender is not held again (grace);
#   6. Block login on another guard incident: refused at once, incident closed;
#   7. receiver killed (SIGKILL) mid-traffic: mail keeps flowing (fail-open) and
#      the map, wired again, still refuses a blocked login;
#   8. receiver back: the guard holds again;
#   9. a flood of bad policy connections (never-ending requests beyond
#      max_connections, malformed requests) does not delay webhooks or the worker.
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/mitigation_lib.sh"
. "$here/../lib/telegram.sh"

ADMIN=1001
RCV_BIN=${RCV_BIN:-$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver}
[ -x "$RCV_BIN" ] || fail "$RCV_BIN not built"
PF_RELAY=sink mit_setup receiver-policy
for u in carol dave erin frank george; do pf_add_user "$work/pf" "$u@saslguard.test" "${u}pw"; done

tg_start "$work"
port=$(free_port)
policy_port=$(free_port)
pf_use_policy_service "$work/pf" "$policy_port"
sed -i "s/^listen_address: .*/listen_address: 127.0.0.1:$port/" "$cfg"
tg_receiver_yaml "$work" $ADMIN >> "$cfg"
cat >> "$cfg" <<YML
smtp_policy:
  enabled: true
  listen: ["inet:127.0.0.1:$policy_port"]
  request_timeout: 2s
  guard:
    max_messages: 5
    message_window: 1m
    release_grace: 10m
YML
rlog=$work/receiver.log
rcv_pid=
start_receiver() {
  "$RCV_BIN" --config "$cfg" >> "$rlog" 2>&1 &
  rcv_pid=$!
  wait_http "http://127.0.0.1:$port/healthz" 60 || fail "receiver did not start: $(tail -5 "$rlog")"
}
stop_receiver() { [ -n "$rcv_pid" ] && kill "$rcv_pid" 2>/dev/null; wait "$rcv_pid" 2>/dev/null || true; rcv_pid=; }
cleanup_push stop_receiver

sql() { sqlite3 -cmd '.timeout 5000' "$PF_DIR/state.db" "$1"; }
# reply USER [swaks args]: "250" when queued, else the first 4xx/5xx reply line.
reply() {
  local user=$1 out bad
  shift
  out=$(swaks --server 127.0.0.1 --port "$PF_SUBMISSION_PORT" --auth PLAIN --auth-user "$user" \
        --auth-password "${user%@*}pw" --from "$user" --to "rcpt@remote.example" \
        --hide-informational --hide-send "$@" 2>&1) || true
  bad=$(printf '%s\n' "$out" | grep -E '^<\*\* [45][0-9][0-9]' | head -1 | cut -c5- || true)
  if [ -n "$bad" ]; then echo "$bad"
  elif grep -q 'queued as' <<<"$out"; then echo 250  # a here-string: with pipefail, printf could die of SIGPIPE
  else echo "no reply: $out"; fi
}
# queue_ids USER QUEUE: queue ids of USER's (envelope sender) messages in QUEUE, sorted.
queue_ids() {
  postqueue -c "$PF_ETC" -j | jq -r --arg s "$1" --arg q "$2" 'select(.sender == $s and .queue_name == $q) | .queue_id' | sort
}
# at_sink USER: how many messages from USER the sink received; sink_subjects USER: their subjects.
sink_subjects() { grep -l -i "^From: .*$1" "$PF_SINK_DIR"/msg.* 2>/dev/null | xargs -r grep -h '^Subject:' | sort; }
at_sink() { sink_subjects "$1" | wc -l; }
# log_ms REGEX: Unix ms of the receiver's last log line matching REGEX (logfmt ts=).
log_ms() { local ts; ts=$(grep -E -- "$1" "$rlog" | tail -1 | sed -nE 's/^ts=([^ ]+) .*/\1/p'); [ -n "$ts" ] && date -d "$ts" +%s%3N; }
# message_of TEXT...: message_id of the first bot message to the admin containing every TEXT.
message_of() {
  tg_messages $ADMIN | jq -r --args '[.[] | select(. as $m | $ARGS.positional | all(. as $t | $m.text | contains($t)))][0].message_id // empty' "$@"
}
# button MID LABEL: callback data of MID's button whose text contains LABEL.
button() { tg_messages $ADMIN | jq -r --argjson m "$1" --arg l "$2" '[.[] | select(.message_id == $m) | .buttons[] | select(.text | contains($l)) | .data][0] // empty'; }
has_button() { [ -n "$(button "$1" "$2")" ]; }
# For wait_for, which runs its command again each time (a "$(...)" in its
# arguments would be read once): has_message TEXT..., sql_is QUERY VALUE,
# sql_ge QUERY N, ok_lines_ge FILE N (smtp_load.py's 250 lines).
has_message() { [ -n "$(message_of "$@")" ]; }
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_ge() { [ "$(sql "$1")" -ge "$2" ]; }
ok_lines_ge() { [ "$(grep -c ' 250 ' "$1" 2>/dev/null)" -ge "$2" ]; }
policy_ask() { # USER: the service's answer to an END-OF-MESSAGE-less RCPT request (bash /dev/tcp)
  local a
  exec 3<>"/dev/tcp/127.0.0.1/$policy_port" || return 1
  printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=127.0.0.1\nsasl_username=%s\n\n' "$1" >&3
  read -r a <&3
  exec 3<&- 3>&-
  echo "${a#action=}"
}

echo "== 0. the receiver starts the policy service ($SECONDS s)"
start_receiver
grep -q 'policy: listening" listen=inet:127.0.0.1:'"$policy_port" "$rlog" || fail "not listening: $(grep policy "$rlog")"
curl -fsS "http://127.0.0.1:$port/metrics" > "$work/metrics.txt"
for l in 'saslguard_policy_answers_total{action="HOLD"} 0' 'saslguard_policy_guard_trips_total 0' \
         'saslguard_policy_errors_total{kind="request_timeout"} 0' 'saslguard_policy_connections_total{result="refused"} 0'; do
  grep -qxF "$l" "$work/metrics.txt" || fail "/metrics lacks '$l'"
done
promtool check metrics < "$work/metrics.txt" || fail "promtool check metrics"

echo "== 1. a normal user is answered DUNNO and delivered ($SECONDS s)"
assert_eq "$(reply bob@saslguard.test --header "Subject: bob 1")" 250 "bob"
pf_wait_sink "$work/pf" 1 60

echo "== 2. blocked through the receiver, refused by the service with check_sasl_access not wired ($SECONDS s)"
postconf -c "$PF_ETC" -e "smtpd_sender_restrictions ="
pf_reload "$work/pf"
sleep 1
assert_eq "$(postconf -c "$PF_ETC" -n | grep -c 'sasl_access' || true)" 0 "check_sasl_access wired in Postfix"
assert_eq "$(reply dave@saslguard.test)" 250 "dave before the block"
# In this process: /block from Telegram runs the Mitigator inside the receiver.
tg_command $ADMIN $ADMIN "/block dave@saslguard.test"
tg_wait_text $ADMIN "✅ blocked login dave@saslguard.test" 30
wait_for 10 grep -q 'policy: blocks updated" logins=1 ' "$rlog" || fail "the service never saw dave's block"
done_ms=$(sql "SELECT finished_at FROM actions WHERE kind = 'block_login' AND target = 'dave@saslguard.test'")
seen_ms=$(log_ms 'policy: blocks updated" logins=1 ')
lat_inproc=$((seen_ms - done_ms))
r=$(reply dave@saslguard.test)
[[ $r == "554 5.7.1 <rcpt@remote.example>: Recipient address rejected: Sending from this account is blocked; contact your mail administrator" ]] ||
  fail "dave blocked by the service: got '$r'"
# Another process: saslguardctl records the block; the receiver's refresh finds it.
ctl_ms_before=$(date +%s%3N)
ctl "$cfg" block-login alice@saslguard.test
assert_eq "$CTL_RC" 0 "saslguardctl block-login"
wait_for 15 grep -q 'policy: blocks updated" logins=2 ' "$rlog" || fail "the service never saw alice's block"
done_ms=$(sql "SELECT finished_at FROM actions WHERE kind = 'block_login' AND target = 'alice@saslguard.test'")
seen_ms=$(log_ms 'policy: blocks updated" logins=2 ')
lat_ctl=$((seen_ms - done_ms))
assert_eq "$(policy_ask Alice@SASLguard.test)" "REJECT 5.7.1 Sending from this account is blocked; contact your mail administrator" "alice asked directly"
r=$(reply alice@saslguard.test)
[[ $r == *"Sending from this account is blocked"* ]] || fail "alice blocked by the service: got '$r'"
assert_eq "$(reply bob@saslguard.test --header "Subject: bob 2")" 250 "bob while alice and dave are blocked"
echo "   a block reaches the policy service: Telegram /block (in process) ${lat_inproc} ms after its commit;"
echo "   saslguardctl (another process) ${lat_ctl} ms after its commit (ActiveBlocks re-reads every 2 s)"
[ "$lat_inproc" -ge 0 ] && [ "$lat_inproc" -lt 1000 ] || fail "in-process block took ${lat_inproc} ms to reach the service"
[ $((ctl_ms_before)) -gt 0 ]

echo "== 3. the guard holds carol's burst past 5 messages; bob is not held ($SECONDS s)"
for i in 1 2 3 4 5 6 7 8; do
  assert_eq "$(reply carol@saslguard.test --header "Subject: carol $i")" 250 "carol message $i is accepted (held or not)"
done
assert_eq "$(reply bob@saslguard.test --header "Subject: bob 3")" 250 "bob during carol's hold"
pf_wait_sink "$work/pf" 8 60   # bob 3 + carol 5
held=$(queue_ids carol@saslguard.test hold)
assert_eq "$(echo "$held" | grep -c .)" 3 "carol's messages in the hold queue"
assert_eq "$(at_sink carol@saslguard.test)" 5 "carol's messages delivered to the sink (the first 5)"
assert_eq "$(queue_ids bob@saslguard.test hold | grep -c . || true)" 0 "bob's held messages"
wait_for 30 has_message SaslUserSendingGuard carol@saslguard.test || fail "no Telegram message for carol"
mid=$(message_of SaslUserSendingGuard carol@saslguard.test)
wait_for 15 has_button "$mid" "Release held mail" || fail "no Release held mail button: $(tg_messages $ADMIN | jq -c --argjson m "$mid" '.[] | select(.message_id == $m) | .buttons')"
has_button "$mid" "Block login" || fail "no Block login button"
has_button "$mid" "Delete queued mail" || fail "no Delete queued mail button"
inc=$(sql "SELECT id FROM incidents WHERE username = 'carol@saslguard.test'")
wait_for 15 sql_is "SELECT count(*) FROM guard_holds WHERE incident_id = $inc" 3 ||
  fail "held queue ids of incident $inc: $(sql "SELECT * FROM guard_holds")"
assert_eq "$(sql "SELECT queue_id FROM guard_holds WHERE incident_id = $inc ORDER BY queue_id")" "$held" \
  "the queue ids recorded against the incident are the ones Postfix holds"

echo "== 4. a later Prometheus-style alert for carol joins her incident ($SECONDS s)"
jq -cn '{version:"4", groupKey:"{}:{alertname=\"SaslUserSendingSurge\"}", truncatedAlerts:0, status:"firing",
  receiver:"saslguard", externalURL:"http://127.0.0.1:9093", groupLabels:{}, commonLabels:{}, commonAnnotations:{},
  alerts:[{status:"firing", fingerprint:"ca401000000000a1", startsAt:"2026-11-23T09:00:00Z",
    endsAt:"0001-01-01T00:00:00Z", generatorURL:"",
    labels:{alertname:"SaslUserSendingSurge", severity:"critical", sasl_username:"Carol@saslguard.test", mitigation:"confirm"},
    annotations:{summary:"carol sends far above her baseline"}}]}' |
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $(cat "$PF_DIR/token")" \
    -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/alertmanager"
wait_for 30 grep -q "alert joined the user's open incident\" incident=$inc alertname=SaslUserSendingSurge" "$rlog" ||
  fail "the surge alert did not join incident $inc"
assert_eq "$(sql "SELECT count(*) FROM incidents WHERE lower(username) = 'carol@saslguard.test'")" 1 "carol's incidents"
assert_eq "$(sql "SELECT count(*) FROM telegram_outbox WHERE incident_id = $inc AND method = 'sendMessage'")" 1 "messages sent for the incident"
assert_eq "$(tg_messages $ADMIN | jq '[.[] | select(.text | contains("carol@saslguard.test"))] | length')" 1 "Telegram messages naming carol"

echo "== 5. Release held mail: every held message delivered once, incident closed, no new hold (grace) ($SECONDS s)"
tg_press $ADMIN $ADMIN "$mid" "$(button "$mid" "Release held mail")"
tg_wait_text $ADMIN "released 3 queued messages of carol@saslguard.test" 30
pf_wait_sink "$work/pf" 11 60
assert_eq "$(sink_subjects carol@saslguard.test | tr '\n' ,)" "Subject: carol 1,Subject: carol 2,Subject: carol 3,Subject: carol 4,Subject: carol 5,Subject: carol 6,Subject: carol 7,Subject: carol 8," \
  "carol's messages at the sink, each once"
assert_eq "$(queue_ids carol@saslguard.test hold | grep -c . || true)" 0 "carol's held messages after the release"
wait_for 30 sql_is "SELECT status FROM incidents WHERE id = $inc" resolved || fail "incident $inc not resolved"
for i in 9 10 11 12 13 14; do assert_eq "$(reply carol@saslguard.test --header "Subject: carol $i")" 250 "carol $i"; done
assert_eq "$(queue_ids carol@saslguard.test hold | grep -c . || true)" 0 "carol held again within the grace"
pf_wait_sink "$work/pf" 17 60

echo "== 6. Block login from the guard's message ($SECONDS s)"
for i in 1 2 3 4 5 6; do assert_eq "$(reply erin@saslguard.test --header "Subject: erin $i")" 250 "erin $i"; done
wait_for 30 has_message SaslUserSendingGuard erin@saslguard.test || fail "no Telegram message for erin"
emid=$(message_of SaslUserSendingGuard erin@saslguard.test)
wait_for 15 has_button "$emid" "Block login" || fail "no Block login button for erin"
tg_press $ADMIN $ADMIN "$emid" "$(button "$emid" "Block login")"
tg_wait_text $ADMIN "blocked login erin@saslguard.test" 30
r=$(reply erin@saslguard.test)
[[ $r == *"Sending from this account is blocked"* ]] || fail "erin after Block login: got '$r'"
wait_for 30 sql_is "SELECT status FROM incidents WHERE username = 'erin@saslguard.test'" resolved ||
  fail "erin's incident not resolved"
assert_eq "$(queue_ids erin@saslguard.test hold | grep -c .)" 1 "erin's held message stays held (nobody released it)"

echo "== 7. receiver killed mid-traffic: mail flows, the map still refuses ($SECONDS s)"
postconf -c "$PF_ETC" -e "smtpd_sender_restrictions = check_sasl_access hash:$PF_SASL_ACCESS"
pf_reload "$work/pf"
grep -qx "dave@saslguard.test REJECT 5.7.1 account blocked by saslguard" "$PF_SASL_ACCESS" || fail "map: $(cat "$PF_SASL_ACCESS")"
printf 'frank@saslguard.test\tfrankpw\n' | python3 "$here/../lib/smtp_load.py" "$PF_SUBMISSION_PORT" 1 127.0.0.20 1 \
  "frank{n}@remote.example" "$work/frank.log" > "$work/frank.out" 2>&1 &
frank=$!
cleanup_push "kill $frank 2>/dev/null; wait $frank 2>/dev/null"
wait_for 20 ok_lines_ge "$work/frank.log" 2 || fail "frank's traffic: $(cat "$work/frank.out")"
kill -9 "$rcv_pid"; wait "$rcv_pid" 2>/dev/null || true; rcv_pid=
killed=$(date +%s)
before=$(grep -c ' 250 ' "$work/frank.log")
assert_eq "$(reply bob@saslguard.test)" 250 "bob with the receiver dead"
r=$(reply dave@saslguard.test)
[[ $r == "554 5.7.1 <dave@saslguard.test>: SASL login name rejected: account blocked by saslguard" ]] ||
  fail "dave refused by the map with the receiver dead: got '$r'"
wait_for 60 ok_lines_ge "$work/frank.log" $((before + 3)) || fail "frank's mail stopped with the receiver dead"
pf_wait_log "$work/pf" "warning: problem talking to server 127.0.0.1:$policy_port" 1 10
echo "   frank: $(( $(grep -c ' 250 ' "$work/frank.log") - before )) messages accepted in $(( $(date +%s) - killed )) s with the receiver dead"

echo "== 8. receiver back: the guard holds again ($SECONDS s)"
start_receiver
for i in 1 2 3 4 5 6; do assert_eq "$(reply george@saslguard.test --header "Subject: george $i")" 250 "george $i"; done
assert_eq "$(queue_ids george@saslguard.test hold | grep -c .)" 1 "george's 6th message held after the restart"
wait_for 30 has_message SaslUserSendingGuard george@saslguard.test || fail "no Telegram message for george"
kill "$frank" 2>/dev/null; wait "$frank" 2>/dev/null || true
assert_eq "$(grep -vc ' 250 ' "$work/frank.log" || true)" 0 "frank's refused or failed messages"

echo "== 9. a flood of bad policy connections does not delay webhooks or the worker ($SECONDS s)"
python3 "$here/policy_flood.py" "$policy_port" 1100 3000 20 > "$work/flood.out" 2>&1 &
flood=$!
cleanup_push "kill $flood 2>/dev/null; wait $flood 2>/dev/null"
sleep 3
incidents_before=$(sql "SELECT count(*) FROM incidents")
worst=0
for i in 1 2 3 4 5; do
  t=$(jq -cn --arg f "f100d00000000a0$i" --arg u "flood$i@example.com" '{version:"4", groupKey:"{}", truncatedAlerts:0,
      status:"firing", receiver:"saslguard", externalURL:"", groupLabels:{}, commonLabels:{}, commonAnnotations:{},
      alerts:[{status:"firing", fingerprint:$f, startsAt:"2026-11-23T09:00:00Z", endsAt:"0001-01-01T00:00:00Z",
        generatorURL:"", labels:{alertname:"SaslUserSendingSurge", sasl_username:$u, mitigation:"notify"}, annotations:{}}]}' |
    curl -fsS -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $(cat "$PF_DIR/token")" \
      -H 'Content-Type: application/json' --data-binary @- "http://127.0.0.1:$port/alertmanager")
  worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
done
wait_for 20 sql_ge "SELECT count(*) FROM incidents" $((incidents_before + 5)) || fail "the worker did not keep up during the flood"
stored_during=$(sql "SELECT max(i.opened_at - a.received_at) FROM incidents i JOIN alerts a ON a.id = i.firing_alert_id WHERE i.username LIKE 'flood%'")
assert_eq "$(reply bob@saslguard.test)" 250 "bob during the flood"
wait "$flood" || true
cat "$work/flood.out"
# Then bad requests alone (the held connections above kept every slot taken,
# so those were refused before a byte was read): each answered DUNNO.
python3 "$here/policy_flood.py" "$policy_port" 0 400 10 > "$work/bad.out" 2>&1
cat "$work/bad.out"
grep -qE 'churned=400 dunno=400 ' "$work/bad.out" || fail "bad requests not each answered DUNNO: $(cat "$work/bad.out")"
assert_eq "$(reply bob@saslguard.test)" 250 "bob after the flood"
echo "   webhooks during the flood: slowest answer ${worst}s; alert → incident at most ${stored_during} ms"
awk -v w="$worst" 'BEGIN { exit !(w < 5) }' || fail "a webhook took ${worst}s during the flood"
curl -fsS "http://127.0.0.1:$port/metrics" > "$work/metrics.txt"
grep -E 'saslguard_policy_(errors|connections)_total' "$work/metrics.txt"
grep -qE 'saslguard_policy_errors_total\{kind="request_timeout"\} [1-9]' "$work/metrics.txt" || fail "no request timeouts counted"
grep -qE 'saslguard_policy_connections_total\{result="refused"\} [1-9]' "$work/metrics.txt" || fail "no refused connections counted"
grep -qE 'saslguard_policy_errors_total\{kind="malformed_line"\} [1-9]' "$work/metrics.txt" || fail "no malformed requests counted"
echo PASS
