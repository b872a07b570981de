#!/usr/bin/env bash
# Live: a saslguard-receiver whose store is PostgreSQL (store.engine postgresql,
# a private cluster on a unix socket, tests/lib/postgres.sh), fed by a real
# Alertmanager.
#   1. An alert added with amtool becomes one incident with its automatic
#      actions, all of it in the host's schema (saslguard_mx1), nothing in the
#      SQLite file.
#   2. PostgreSQL stopped: a webhook is answered 500 (Alertmanager retries), the
#      receiver keeps running; an alert added meanwhile is stored and acted on
#      once PostgreSQL is back, through Alertmanager's own retries.
#   3. saslguardctl reads the same store (list-blocks) and doctor finds it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/alertmanager.sh
. "$here/../lib/alertmanager.sh"
# shellcheck source=../lib/postgres.sh
. "$here/../lib/postgres.sh"
# shellcheck source=receiver_lib.sh
. "$here/receiver_lib.sh"

[ -x "$RCV_BIN" ] || fail "no receiver at $RCV_BIN: build the saslguard-receiver target first"
work=$(make_workdir rcv-pg)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
chmod 711 "$work"
pg_create_start "$work/pg"
printf '%s\n' "$PG_CONNINFO" > "$work/conninfo"
chmod 600 "$work/conninfo"
psql_() { pg_sql "$work/pg" "$1"; }
psql_is() { [ "$(psql_ "$1")" = "$2" ]; }

rcv_exporter "$work/exporter" alice@saslguard.test bob@saslguard.test
rcv_create "$work/rcv" "$(rcv_dry_run_yaml "$work/rcv" "$RCV_EXPORTER_URL")
store:
  engine: postgresql
  conninfo_file: $work/conninfo
  schema: saslguard_mx1"
rcv_start "$work/rcv"
. "$work/rcv/rcv_env"
start=$(date -u -d '-2 minutes' +%Y-%m-%dT%H:%M:%SZ)
labels_for() {
  echo alertname=SaslUserSendingSurge instance=mx1.saslguard.test:9754 "sasl_username=$1" severity=critical mitigation=auto
}

# --- 1. an alert through Alertmanager ------------------------------------------
am_create "$work" am "$RCV_URL/alertmanager" "$RCV_TOKEN_FILE"
am_start "$work" am
# shellcheck disable=SC2046
am_add_alert "$work" am $(labels_for alice@saslguard.test) --start="$start"
wait_for 30 psql_is "SELECT count(*) FROM saslguard_mx1.alerts WHERE state = 'done'" 1 ||
  fail "alert not processed; receiver log: $(tail -5 "$work/rcv/receiver.log")"
assert_eq "$(psql_ "SELECT string_agg(username || ' ' || status, ',') FROM saslguard_mx1.incidents")" \
  "alice@saslguard.test open" "incident"
assert_eq "$(psql_ "SELECT string_agg(kind, ',' ORDER BY id) FROM saslguard_mx1.actions WHERE actor = 'auto'")" \
  "block_login,hold_mail" "actions"
[ ! -e "$work/rcv/state.db" ] || fail "the SQLite file was created beside a PostgreSQL store"
echo "PostgreSQL store: alert → 1 incident, block_login + hold_mail, in schema saslguard_mx1"

# --- 2. PostgreSQL down, then back ---------------------------------------------
sql_body() { psql_ "SELECT body FROM saslguard_mx1.webhooks ORDER BY id LIMIT 1"; }
sql_body > "$work/delivery.json"
pg_stop "$work/pg"
status=$(rcv_post "$work/rcv" "$work/delivery.json")
assert_eq "$status" 500 "a webhook while PostgreSQL is down"
# shellcheck disable=SC2046
am_add_alert "$work" am $(labels_for bob@saslguard.test) --start="$start"
# Alertmanager delivers bob's alert (group_wait 1s), gets 500, and retries.
sleep 4
kill -0 "$(cat "$work/rcv/receiver.pid")" || fail "the receiver exited while PostgreSQL was down"
curl -fsS "$RCV_URL/metrics" > /dev/null || fail "the receiver stopped answering while PostgreSQL was down"
pg_start "$work/pg"
wait_for 60 psql_is "SELECT count(*) FROM saslguard_mx1.incidents WHERE username = 'bob@saslguard.test'" 1 ||
  fail "bob's alert was not stored after PostgreSQL came back; receiver log: $(tail -5 "$work/rcv/receiver.log")"
wait_for 30 psql_is "SELECT count(*) FROM saslguard_mx1.alerts WHERE state != 'done'" 0 ||
  fail "events left unfinished after PostgreSQL came back"
assert_eq "$(psql_ "SELECT count(*) FROM saslguard_mx1.actions WHERE actor = 'auto' AND target = 'bob@saslguard.test'")" \
  2 "bob's automatic actions, once"
assert_eq "$(psql_ "SELECT count(*) FROM saslguard_mx1.incidents")" 2 "incidents after the outage"
grep -q 'PostgreSQL' "$work/rcv/receiver.log" || fail "the outage left no trace in the receiver's log"
echo "PostgreSQL stopped: webhook answered 500, receiver alive; restarted: bob's alert stored and acted on once"

# --- 3. saslguardctl on the same store -----------------------------------------
CTL_BIN=${CTL_BIN:-$SASLGUARD_BUILD_DIR/receiver/saslguardctl}
"$CTL_BIN" --config "$work/rcv/receiver.yml" audit > "$work/audit.txt" 2>&1 ||
  fail "saslguardctl audit: $(cat "$work/audit.txt")"
grep -q 'bob@saslguard.test' "$work/audit.txt" || fail "saslguardctl audit does not show bob's actions: $(cat "$work/audit.txt")"
echo "saslguardctl reads the PostgreSQL store"
echo "receiver_postgresql_store: ok"
