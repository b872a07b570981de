#!/usr/bin/env bash
# One Telegram front for a fleet (issue #18, docs/fleet.md), all real on
# 127.0.0.1: a private PostgreSQL cluster (unix socket), three private Postfix
# instances — hosts A, B and C — each with its saslguard-receiver
# (fleet.coordinate), and the telegram-test-api emulator as the one bot.
#   1. a compromise on B: the webhook naming host-b is delivered to all three
#      receivers; one incident (B's), one Telegram message naming host-b;
#   2. "Hold mail" pressed in Telegram: polled by A (the lock holder),
#      forwarded through PostgreSQL to B, which holds B's queue only (A's and
#      C's mail from the same user stays deferred); the propagation is measured
#      in PostgreSQL (request created → claimed by B, the database's clock);
#   3. A, the poller, killed with SIGKILL; a button pressed right after is
#      handled once, by B, after B or C took the lock; the failover time is
#      measured from the receivers' own log timestamps (kill → "took the lock");
#   4. that request delivered again (its row set back to pending, as after a
#      crash of B) acts no second time: B's own store knows the update;
#   5. PostgreSQL down: the webhook is answered 5xx and polling stops; back up,
#      the resent webhook is stored and a receiver polls again.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands unset variables in heredocs
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../receiver/mitigation_lib.sh
. "$here/../receiver/mitigation_lib.sh"
# shellcheck source=../lib/telegram.sh
. "$here/../lib/telegram.sh"
# shellcheck source=../lib/postgres.sh
. "$here/../lib/postgres.sh"

ADMIN=1001
RCV=${RCV_BIN:-$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver}
work=$(make_workdir fleet-front)
cleanup_push "rm -rf '$work'"
chmod 711 "$work"  # postgres reaches the socket below
pg_create_start "$work/pg"
printf '%s\n' "$PG_CONNINFO" > "$work/pg-conninfo"
chmod 600 "$work/pg-conninfo"
tg_start "$work"

hosts="a b c"
# Every instance before any pf_env: pf_create reuses PF_*_PORT from the environment.
for h in $hosts; do
  pf_create "$work/pf-$h"
  cleanup_push "pf_stop '$work/pf-$h'"
done
for h in $hosts; do
  pf_add_user "$work/pf-$h" alice@saslguard.test alicepw
  pf_start "$work/pf-$h" || fail "Postfix $h did not start"
  cfg=$work/$h.yml
  mit_config "$work/pf-$h" "$cfg"
  port=$(free_port)
  sed -i "s/^listen_address: .*/listen_address: 127.0.0.1:$port/" "$cfg"
  echo "$port" > "$work/$h.port"
  tg_receiver_yaml "$work" $ADMIN >> "$cfg"
  cat >> "$cfg" <<YML
fleet:
  coordinate: true
  conninfo_file: $work/pg-conninfo
  host_name: host-$h
YML
done

start() { # HOST: its receiver, pid in WORK/HOST.pid, log in WORK/HOST.log
  local h=$1 port
  port=$(cat "$work/$h.port")
  "$RCV" --config "$work/$h.yml" >> "$work/$h.log" 2>&1 &
  echo $! > "$work/$h.pid"
  cleanup_push "kill \$(cat '$work/$h.pid') 2>/dev/null; wait \$(cat '$work/$h.pid') 2>/dev/null"
  wait_http "http://127.0.0.1:$port/healthz" 60 || fail "receiver $h did not start: $(tail -5 "$work/$h.log")"
}
took_lock() { grep -q 'took the PostgreSQL lock' "$work/$1.log"; }
sql() { pg_sql "$work/pg" "$1"; }
sql_is() { [ "$(sql "$1" 2>/dev/null)" = "$2" ]; }
state() { sqlite3 -cmd '.timeout 5000' "$work/pf-$1/state.db" "$2"; }

# A first, so that A polls; then B and C, which wait for the lock.
start a
wait_for 30 took_lock a || fail "A never took the poller lock: $(tail -5 "$work/a.log")"
start b
start c
sleep 3  # B and C try the lock at least once (every 2 s): neither may get it
for h in b c; do ! took_lock $h || fail "$h took the lock while A holds it"; done
assert_eq "$(sql 'SELECT poller FROM saslguard_telegram_front')" host-a "the poller"
poller_gauge() { curl -fsS "http://127.0.0.1:$(cat "$work/$1.port")/metrics" |
  awk '$1 == "saslguard_receiver_telegram_poller" {print $2}'; }
assert_eq "$(poller_gauge a) $(poller_gauge b) $(poller_gauge c)" "1 0 0" "saslguard_receiver_telegram_poller on A, B, C"

echo "== alice's mail queued on every host (deferred: the recipient does not resolve)"
for h in $hosts; do
  pf_send "$work/pf-$h" alice@saslguard.test alicepw
  pf_send "$work/pf-$h" alice@saslguard.test alicepw
done
queue_ids() { # HOST QUEUE-REGEX
  pf_env "$work/pf-$1"
  postqueue -c "$PF_ETC" -j | jq -r --arg q "$2" 'select(.queue_name|test($q)) | .queue_id' | sort
}
count() { queue_ids "$1" '^(deferred|active|incoming|hold)$' | wc -l; }
queued() { [ "$(queue_ids "$1" '^deferred$' | wc -l)" -ge 1 ]; }
for h in $hosts; do
  wait_for 60 queued $h || fail "no deferred message in $h's queue: $(pf_env "$work/pf-$h"; tail -20 "$PF_LOG")"
done
sleep 1
declare -A n
for h in $hosts; do n[$h]=$(count $h); done
echo "queued: A ${n[a]}, B ${n[b]}, C ${n[c]}"
for h in $hosts; do assert_eq "${n[$h]}" 2 "messages queued on $h"; done

echo "== 1. a compromise on B, the webhook delivered to every receiver"
jq -cn '{version:"4", groupKey:"{}:{alertname=\"SaslUserSendingSurge\"}", truncatedAlerts:0, status:"firing",
  receiver:"saslguard", externalURL:"http://127.0.0.1:9093", groupLabels:{}, commonLabels:{}, commonAnnotations:{},
  alerts:[{status:"firing", fingerprint:"b0b0000000000001", startsAt:"2026-11-30T07:00:00Z",
    endsAt:"0001-01-01T00:00:00Z", generatorURL:"",
    labels:{alertname:"SaslUserSendingSurge", severity:"critical", sasl_username:"alice@saslguard.test",
            host:"host-b", instance:"host-b:9154"},
    annotations:{summary:"alice sends far above her baseline on B"}}]}' > "$work/alert.json"
post() { # HOST: the HTTP status of the webhook to that receiver
  curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$work/pf-$1/token")" \
    -H 'Content-Type: application/json' --data-binary @"$work/alert.json" \
    "http://127.0.0.1:$(cat "$work/$1.port")/alertmanager"
}
for h in a c b a; do assert_eq "$(post $h)" 200 "webhook to $h"; done
assert_eq "$(sql "SELECT owner FROM saslguard_fleet_alerts")" host-b "the alert's owner"
for h in a c; do assert_eq "$(state $h 'SELECT count(*) FROM alerts')" 0 "alerts stored by $h"; done
assert_eq "$(state b 'SELECT count(*) FROM alerts')" 1 "alerts stored by B"
tg_wait_text $ADMIN "host-b" 30
sleep 2  # a second message (from A or C) would have come by now
incident_messages() { tg_messages $ADMIN | jq '[.[] | select(.text | contains("incident #"))] | length'; }
assert_eq "$(incident_messages)" 1 "incident messages in the chat"
tg_messages $ADMIN | jq -e '.[0].text | contains("host-b")' > /dev/null || fail "the message does not name host-b"
mid=$(tg_messages $ADMIN | jq -r '.[0].message_id')

echo "== 2. Hold mail in Telegram: polled by A, run on B only"
hold=$(tg_button $ADMIN "Hold mail")
[[ $hold == host-b/* ]] || fail "Hold mail's callback_data does not name host-b: '$hold'"
tg_press $ADMIN $ADMIN "$mid" "$hold"
held() { [ "$(queue_ids b '^hold$' | wc -l)" = "${n[b]}" ]; }
wait_for 30 held || fail "B's mail not held: $(tail -5 "$work/b.log")"
for h in a c; do
  assert_eq "$(queue_ids $h '^hold$' | wc -l)" 0 "held messages on $h"
  assert_eq "$(count $h)" "${n[$h]}" "messages queued on $h"
done
wait_for 15 sql_is "SELECT state || ' ' || forwarded_by || ' ' || host FROM saslguard_fleet_requests" \
  "done host-a host-b" || fail "request: $(sql 'SELECT * FROM saslguard_fleet_requests')"
prop=$(sql "SELECT round(extract(epoch FROM claimed_at - created_at)::numeric * 1000) FROM saslguard_fleet_requests")
echo "press propagation (A's request row → claimed by B, PostgreSQL's clock): ${prop} ms"
assert_eq "$(state b "SELECT count(*) FROM actions WHERE kind = 'hold_mail' AND state = 'applied'")" 1 "B's hold actions"
tg_wait_text $ADMIN "@user1001 (1001): held" 20

echo "== 3. the poller (A) killed; a button pressed during the switch"
block=$(tg_button $ADMIN "Block login")
[ -n "$block" ] || fail "no Block login button"
kill -9 "$(cat "$work/a.pid")"
t_kill=$(date +%s.%N)
tg_press $ADMIN $ADMIN "$mid" "$block"
new_poller() { took_lock b || took_lock c; }
wait_for 60 new_poller || fail "nobody took the lock after A died"
blocked() { pf_env "$work/pf-b"; grep -q "^alice@saslguard.test " "$PF_SASL_ACCESS"; }
wait_for 60 blocked || fail "the press made during the switch was not handled: $(tail -5 "$work/b.log")"
poller=$(sql 'SELECT poller FROM saslguard_telegram_front')
h=${poller#host-}
ts=$(grep -m1 'took the PostgreSQL lock' "$work/$h.log" | sed -E 's/^ts=([^ ]+).*/\1/')
failover=$(python3 -c "import sys,datetime; t=datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')).timestamp(); print(f'{t-float(sys.argv[2]):.2f}')" "$ts" "$t_kill")
echo "failover: A killed at $(date -u -d "@$t_kill" +%T.%N | cut -c1-12), $poller took the lock at $ts: ${failover}s"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < 30 else 1)" "$failover" || fail "failover took ${failover}s (over 30 s)"
req=$(sql "SELECT max(id) FROM saslguard_fleet_requests")
handled_ts() { grep -E "fleet request handled.* request=\"?$req\"? " "$work/b.log" | head -1 | sed -E 's/^ts=([^ ]+).*/\1/'; }
wait_for 30 test -n "$(handled_ts)" || fail "B never logged the request handled"
handled=$(python3 -c "import sys,datetime; t=datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')).timestamp(); print(f'{t-float(sys.argv[2]):.2f}')" "$(handled_ts)" "$t_kill")
echo "the press made during the switch handled on B ${handled}s after the kill"
assert_eq "$(state b "SELECT count(*) FROM actions WHERE kind = 'block_login'")" 1 "block_login actions on B"
assert_eq "$(sql "SELECT count(*) FROM saslguard_fleet_requests WHERE state = 'done'")" 2 "requests done"
assert_eq "$(sql "SELECT count(*) FROM saslguard_telegram_updates WHERE kind = 'press'")" 2 "presses recorded"

echo "== 4. the same request delivered again (as after a crash of B) acts no second time"
last=$(sql "SELECT max(id) FROM saslguard_fleet_requests")
sql "UPDATE saslguard_fleet_requests SET state = 'pending', finished_at = NULL WHERE id = $last" > /dev/null
wait_for 20 sql_is "SELECT state FROM saslguard_fleet_requests WHERE id = $last" "done" ||
  fail "the request was not taken again"
assert_eq "$(state b "SELECT count(*) FROM actions WHERE kind = 'block_login'")" 1 "block_login actions on B after the redelivery"
assert_eq "$(grep -cE "fleet request handled.* request=\"?$last\"? " "$work/b.log")" 2 "B took the row twice (the second a no-op)"

echo "== 5. PostgreSQL down: 5xx, polling stops; back: stored, polling again"
pg_stop "$work/pg"
jq '.alerts[0].fingerprint = "b0b0000000000002"' "$work/alert.json" > "$work/alert2.json"
mv "$work/alert2.json" "$work/alert.json"
code=$(post b)
[[ $code == 5* ]] || fail "with PostgreSQL down the webhook got $code, expected 5xx"
echo "webhook with PostgreSQL down: $code (Alertmanager retries)"
stopped() { grep -q 'lost the PostgreSQL lock, polling stops' "$work/$h.log"; }
wait_for 30 stopped || fail "the poller did not stop polling: $(tail -3 "$work/$h.log")"
pg_start "$work/pg"
retried() { [ "$(post b)" = 200 ]; }
wait_for 30 retried || fail "the webhook was not accepted after PostgreSQL came back"
assert_eq "$(state b "SELECT count(*) FROM alerts WHERE fingerprint = 'b0b0000000000002'")" 1 "the resent alert stored on B"
polling_again() { [ "$(grep -c 'took the PostgreSQL lock' "$work/b.log" "$work/c.log" | awk -F: '{s+=$2} END {print s}')" -ge 2 ]; }
wait_for 30 polling_again || fail "no receiver took the lock again"
echo "PASS: fleet Telegram front (press propagation ${prop} ms, failover ${failover}s, press during the switch handled after ${handled}s)"
