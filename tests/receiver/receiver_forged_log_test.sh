#!/usr/bin/env bash
# Live (issue #15, forged log lines): an unprivileged local user writes 30
# submission lines for a victim to syslog, exactly as
#   logger -t postfix/submission/smtpd "…: client=…, sasl_method=PLAIN, sasl_username=VICTIM"
# would. The real exporter tails the mail log and counts them; Prometheus is
# down, so the receiver's fallback scrapes the exporter and sees 30 messages for
# the victim. An alert labelled mitigation="auto" for the victim must cause no
# automatic action: the victim has no message in the queue, so the log is not
# corroborated, and the receiver asks instead (confirm, with the reason).
#
# The control: bob really submits 25 messages (authenticated, queued by a real
# Postfix); the same alert for bob is corroborated by the queue and acted on.
#
# Stand-ins: the system's syslog daemon is replaced by a 20-line Python reader
# of a private /dev/log-like datagram socket (logger --socket) that appends
# what it receives to the mail log the way rsyslog would (priority dropped,
# host inserted). Everything else is the real program.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
here=$(dirname "$0")
. "$here/mitigation_lib.sh"
. "$here/receiver_lib.sh"

EXPORTER_BIN=${EXPORTER_BIN:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}
[ -x "$EXPORTER_BIN" ] || fail "no $EXPORTER_BIN: build saslguard-exporter first"

victim=alice@saslguard.test
mit_setup receiver-forged-log
pf_env "$work/pf"

# --- the exporter, tailing the instance's mail log --------------------------------
exp_port=$(free_port)
"$EXPORTER_BIN" --web.listen-address="127.0.0.1:$exp_port" --log.path="$PF_LOG" \
  --showq.path="$PF_SHOWQ" > "$work/exporter.log" 2>&1 &
cleanup_push "kill $! 2>/dev/null; wait $! 2>/dev/null"
wait_http "http://127.0.0.1:$exp_port/metrics" 20 || fail "exporter: $(cat "$work/exporter.log")"

# --- the receiver: Prometheus unreachable, the exporter as fallback --------------
rcv_create "$work/rcv" "prometheus:
  url: http://127.0.0.1:1
  timeout: 1s
  exporter_url: http://127.0.0.1:$exp_port/metrics
mitigation:
  postfix_config_dir: $PF_ETC
  sasl_access_map: $PF_SASL_ACCESS
  client_access_map: $PF_CLIENT_ACCESS
  showq_path: $PF_SHOWQ
  sasldb_path: $PF_SASLDB
  postfix_bin_dir: $(dirname "$(command -v postsuper)")
  command_timeout: 20s"
rcv_start "$work/rcv" || fail "receiver did not start: $(cat "$work/rcv/receiver.log")"

# --- 30 forged lines from an unprivileged user, through syslog -------------------
sock=$work/devlog
python3 - "$sock" "$PF_LOG" 30 "$(hostname -s)" > "$work/syslog.log" 2>&1 <<'PY' &
import os, re, socket, sys
path, out, n, host = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)  # like /dev/log: every local user may log
open(path + ".ready", "w").close()
with open(out, "a") as f:
    for _ in range(n):
        msg = re.sub(r"^<\d+>", "", s.recv(65536).decode("utf-8", "replace")).rstrip("\n")
        # "Nov 23 09:00:00 tag[pid]: text" -> "Nov 23 09:00:00 HOST tag[pid]: text"
        f.write(msg[:15] + " " + host + msg[15:] + "\n")
        f.flush()
PY
syslogd=$!
cleanup_push "kill $syslogd 2>/dev/null"
wait_for 20 test -e "$sock.ready" || fail "syslog stand-in did not start: $(cat "$work/syslog.log")"
for i in $(seq 1 30); do
  qid=$(printf '%05X%05X' "$RANDOM" "$i")
  setpriv --reuid=nobody --regid=nogroup --clear-groups \
    logger --socket-errors=on --socket "$sock" -t postfix/submission/smtpd -i \
    "$qid: client=unknown[203.0.113.$((i % 200 + 1))], sasl_method=PLAIN, sasl_username=$victim"
done
wait "$syslogd" || fail "syslog stand-in: $(cat "$work/syslog.log")"
assert_eq "$(grep -c "sasl_username=$victim" "$PF_LOG")" 30 "forged lines in the mail log"

exported() { # USER: the exporter's message counter for USER
  curl -fsS "http://127.0.0.1:$exp_port/metrics" |
    awk -v u="$1" 'index($0, "postfix_sasl_user_messages_total{sasl_username=\"" u "\"}") == 1 {print $2}'
}
victim_counted() { [ "$(exported "$victim")" = 30 ]; }
wait_for 30 victim_counted || fail "exporter did not count the forged lines: '$(exported "$victim")'"
# The same user also queues mail with the victim's envelope sender (sendmail -f):
# postdrop drops any sasl_username record a local submission carries, so the
# queue still holds none of the victim's own messages.
for i in 1 2 3 4 5 6; do pf_sendmail "$work/pf" "$victim"; done
forged_queued() { [ "$(postqueue -c "$PF_ETC" -j | grep -c "\"sender\": \"$victim\"")" -ge 6 ]; }
wait_for 30 forged_queued || fail "the forged-sender messages are not queued"

# --- the alert, as the shipped rule would send it --------------------------------
post_alert() { # USER FINGERPRINT
  cat > "$work/alert-$2.json" <<JSON
{"version":"4","groupKey":"{}:{alertname=\"SaslUserSendingSurge\"}","truncatedAlerts":0,
 "status":"firing","receiver":"saslguard","groupLabels":{"alertname":"SaslUserSendingSurge"},
 "commonLabels":{},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093",
 "alerts":[{"status":"firing","labels":{"alertname":"SaslUserSendingSurge","severity":"critical",
   "sasl_username":"$1","mitigation":"auto","suggested_actions":"block_login,hold_mail"},
   "annotations":{"summary":"surge"},"startsAt":"2026-11-23T09:00:00Z",
   "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"$2"}]}
JSON
  assert_eq "$(rcv_post "$work/rcv" "$work/alert-$2.json")" 200 "webhook for $1"
}
decided() { rcv_sql_is "$work/rcv" "SELECT count(*) FROM decisions d JOIN incidents i ON i.id = d.incident_id WHERE i.username = '$1'" 1; }

post_alert "$victim" 00000000000000f1
wait_for 60 decided "$victim" || fail "no decision for $victim: $(tail -5 "$work/rcv/receiver.log")"
mode=$(rcv_sql "$work/rcv" "SELECT d.mode FROM decisions d JOIN incidents i ON i.id = d.incident_id WHERE i.username = '$victim'")
reason=$(rcv_sql "$work/rcv" "SELECT d.reason FROM decisions d JOIN incidents i ON i.id = d.incident_id WHERE i.username = '$victim'")
echo "forged: mode=$mode reason=$reason"
assert_eq "$(rcv_sql "$work/rcv" "SELECT count(*) FROM actions WHERE actor = 'auto'")" 0 "automatic actions for forged lines"
assert_eq "$mode" confirm "mode for forged lines"
grep -q "queue" <<<"$reason" || fail "the reason does not say the queue did not corroborate: $reason"
grep -qi "$victim" "$PF_SASL_ACCESS" 2>/dev/null && fail "the victim was blocked: $(cat "$PF_SASL_ACCESS")"
assert_eq "$(smtp_code "$work/pf" "$victim" alicepw)" 250 "the victim still sends"

# --- the control: real mail from bob in the queue ----------------------------------
python3 - "$PF_SUBMISSION_PORT" <<'PY'
import smtplib, sys
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60) as s:
    s.login("bob@saslguard.test", "bobpw")
    for i in range(25):
        s.sendmail("bob@saslguard.test", ["rcpt%d@remote.example" % i], "Subject: %d\n\nspam\n" % i)
PY
bob_queued() { [ "$(postqueue -c "$PF_ETC" -j | grep -c '"sender": "bob@saslguard.test"')" -ge 25 ]; }
wait_for 60 bob_queued || fail "bob's 25 messages are not queued"
bob_counted() { [ "$(exported bob@saslguard.test)" = 25 ]; }
wait_for 30 bob_counted || fail "exporter: bob '$(exported bob@saslguard.test)'"
post_alert bob@saslguard.test 00000000000000f2
wait_for 60 decided bob@saslguard.test || fail "no decision for bob"
auto_applied() { rcv_sql_is "$work/rcv" "SELECT count(*) FROM actions WHERE actor = 'auto' AND state = 'applied' AND kind = 'block_login' AND target = 'bob@saslguard.test'" 1; }
wait_for 60 auto_applied || fail "bob was not blocked automatically: $(rcv_sql "$work/rcv" "SELECT mode, reason FROM decisions")"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 554 "bob after the automatic block"
echo "receiver_forged_log_test: ok"
