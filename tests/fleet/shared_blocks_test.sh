#!/usr/bin/env bash
# Blocks fleet-wide through Postfix itself (issue #18, docs/fleet.md), with real
# parts on 127.0.0.1: a private PostgreSQL cluster (unix socket only), two
# private Postfix instances — host A and host B — whose submission services look
# up check_sasl_access / check_client_access proxy:pgsql:, and B's
# saslguard-receiver with fleet.shared_blocks. A has no receiver at all.
#   1. saslguardctl blocks alice on B: A refuses alice (554) and still takes bob;
#      the propagation time is measured at the source (the row's published_at
#      minus the action's since, both written by the database/receiver);
#   2. unblock on B: A takes alice again;
#   3. PostgreSQL stopped: A's lookup fails and Postfix answers 451 (temporary:
#      the client retries, nothing is lost — docs/fleet.md); B still blocks by
#      its own map; a block made on B meanwhile reaches the table once
#      PostgreSQL is back (the receiver retries), with no restart.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands unset variables in heredocs
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../receiver/mitigation_lib.sh
. "$here/../receiver/mitigation_lib.sh"
# shellcheck source=../receiver/receiver_lib.sh
. "$here/../receiver/receiver_lib.sh"
# shellcheck source=../lib/postgres.sh
. "$here/../lib/postgres.sh"

work=$(make_workdir fleet-blocks)
cleanup_push "rm -rf '$work'"
chmod 711 "$work"  # postgres and Postfix's proxymap (user postfix) reach the socket below
pg_create_start "$work/pg"

for h in a b; do
  pf_create "$work/pf-$h"
  cleanup_push "pf_stop '$work/pf-$h'"
  pf_add_user "$work/pf-$h" alice@saslguard.test alicepw
  pf_add_user "$work/pf-$h" bob@saslguard.test bobpw
done

# The lookup tables every host's Postfix uses (docs/fleet.md shows the same).
pg_postfix_lookups "$work"
for h in a b; do
  pg_postfix_use "$work/pf-$h" "$work"
  pf_start "$work/pf-$h" || fail "Postfix $h did not start"
done

# B's receiver: mitigation on B's Postfix, blocks shared through PostgreSQL.
printf '%s\n' "$PG_CONNINFO" > "$work/pg-conninfo"
chmod 600 "$work/pg-conninfo"
mit_config "$work/pf-b" "$work/b.yml"
rcv_create "$work/rcv-b" "$(sed -n '/^mitigation:/,$p' "$work/b.yml")
fleet:
  shared_blocks: true
  conninfo_file: $work/pg-conninfo
  host_name: host-b"
sed -i "s|^state_path: .*|state_path: $work/pf-b/state.db|" "$work/rcv-b/receiver.yml"
rcv_start "$work/rcv-b" || fail "receiver B did not start: $(cat "$work/rcv-b/receiver.log")"
ctl_cfg=$work/rcv-b/receiver.yml

rows() { pg_sql "$work/pg" "SELECT count(*) FROM saslguard_blocks WHERE $1" 2>/dev/null || echo x; }
rows_are() { [ "$(rows "$1")" = "$2" ]; }
code_a() { smtp_code "$work/pf-a" "$1" "$2"; }
code_is() { [ "$(smtp_code "$work/pf-$1" "$2" "$3")" = "$4" ]; }

echo "== 0. before any block both hosts take alice"
assert_eq "$(code_a alice@saslguard.test alicepw)" 250 "A takes alice before the block"

echo "== 1. block alice on B → refused on A"
ctl_ok "$ctl_cfg" block-login alice@saslguard.test --reason "fleet test"
wait_for 30 rows_are "kind = 'login' AND target = 'alice@saslguard.test' AND host = 'host-b'" 1 ||
  fail "alice's block never reached PostgreSQL: $(tail -5 "$work/rcv-b/receiver.log")"
prop=$(pg_sql "$work/pg" "SELECT round(extract(epoch FROM published_at - since)::numeric, 2) FROM saslguard_blocks WHERE target = 'alice@saslguard.test'")
echo "propagation (block recorded on B → row in PostgreSQL, the database's clock): ${prop}s"
assert_eq "$(code_a alice@saslguard.test alicepw)" 554 "A refuses alice blocked on B"
assert_eq "$(code_a bob@saslguard.test bobpw)" 250 "A still takes bob"
assert_eq "$(smtp_code "$work/pf-b" alice@saslguard.test alicepw)" 554 "B refuses alice"

echo "== 2. unblock on B → A takes alice again"
ctl_ok "$ctl_cfg" unblock-login alice@saslguard.test
wait_for 30 rows_are "kind = 'login'" 0 || fail "the unblock never reached PostgreSQL"
assert_eq "$(code_a alice@saslguard.test alicepw)" 250 "A takes alice after the unblock"

echo "== 3. PostgreSQL down"
pg_stop "$work/pg"
code=$(code_a bob@saslguard.test bobpw)
[[ $code == 4* ]] || fail "with PostgreSQL down A answered $code, expected a 4xx temporary failure"
echo "A with PostgreSQL down: $code (temporary; the client retries)"
ctl_ok "$ctl_cfg" block-login carol@saslguard.test
kill -0 "$(cat "$work/rcv-b/receiver.pid")" || fail "receiver B died with PostgreSQL down"
warned() { grep -q "shared blocks not published" "$work/rcv-b/receiver.log"; }
wait_for 30 warned || fail "no warning about PostgreSQL"
pg_start "$work/pg"
wait_for 30 rows_are "target = 'carol@saslguard.test'" 1 || fail "carol's block not published after PostgreSQL came back"
assert_eq "$(rows "kind = 'login'")" 1 "only carol is blocked"
recovered() { grep -q "shared blocks published again" "$work/rcv-b/receiver.log"; }
wait_for 30 recovered || fail "no recovery line"
echo "PASS: fleet shared blocks (propagation ${prop}s)"
