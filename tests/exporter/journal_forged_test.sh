#!/usr/bin/env bash
# The forged-log attack of issue #15 against the exporter's journal source:
# a local user runs `logger -t postfix/submission/smtpd` 30 times with a
# victim's login. journald files those entries under the user's session scope
# (_SYSTEMD_UNIT, _UID set by journald, not by the sender), so the exporter
# reading Postfix's units must count alice's 3 real submissions and nothing for
# the victim. The journal is built with systemd-journal-remote from journald's
# export format (the test machine may run no journald); the exporter reads it
# with --journal.directory and --log.from-start, as it reads the system journal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
remote=/lib/systemd/systemd-journal-remote
[ -x "$remote" ] || fail "no $remote (scripts/install-deps.sh installs systemd-journal-remote)"
work=$(make_workdir journal-forged)
cleanup_push "rm -rf '$work'"
mkdir -p "$work/journal"

t=$(( $(date +%s) * 1000000 ))
entry() { # UNIT UID IDENT MESSAGE
  t=$((t + 1000))
  printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=5b1ef35e1f5d4fd6a1a6b5d2c6a8c0e1\n_SYSTEMD_UNIT=%s\n_UID=%s\n_PID=%s\n_HOSTNAME=mail\nSYSLOG_IDENTIFIER=%s\nMESSAGE=%s\n\n' \
    "$t" "$t" "$1" "$2" "$RANDOM" "$3" "$4"
}
{
  for i in 1 2 3; do
    entry postfix@-.service 0 postfix/submission/smtpd \
      "4Xq1a2B3c$i: client=unknown[203.0.113.5], sasl_method=PLAIN, sasl_username=alice@example.org"
  done
  for i in $(seq 10 39); do
    entry session-7.scope 1000 postfix/submission/smtpd \
      "4Fk9Zz8Y$i: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=victim@example.org"
  done
} > "$work/entries.export"
"$remote" -o "$work/journal/system.journal" "$work/entries.export" 2> "$work/remote.log" ||
  fail "systemd-journal-remote: $(cat "$work/remote.log")"

port=$(free_port)
"$exporter" --web.listen-address="127.0.0.1:$port" --log.source=journal \
  --journal.directory="$work/journal" --log.from-start > "$work/exporter.log" 2>&1 &
cleanup_push "kill $! 2>/dev/null; wait $! 2>/dev/null"
wait_http "http://127.0.0.1:$port/metrics" 20 || fail "exporter did not start: $(cat "$work/exporter.log")"

alice() { curl -s "http://127.0.0.1:$port/metrics" |
  awk '/^postfix_sasl_user_messages_total\{.*sasl_username="alice@example.org"/ {print $2}'; }
alice_is_3() { [ "$(alice)" = 3 ]; }
wait_for 30 alice_is_3 || fail "alice's real submissions: got '$(alice)', want 3"
if curl -s "http://127.0.0.1:$port/metrics" | grep 'victim@example.org' >/dev/null; then
  fail "the forged entries were counted for the victim"
fi
echo "PASS: 3 real submissions counted, 30 forged ones from a user's session ignored"
