#!/usr/bin/env bash
# saslguardctl doctor against the real chain on 127.0.0.1 (tests/lib/stack.sh:
# private Postfix, exporter, Prometheus with the shipped rules, Alertmanager with
# the shipped route, the receiver, the Telegram emulator).
#   1. everything wired: exit 0, each area reported ok (the emulator has no
#      getChat, so the admin chat is a warning, not a failure);
#   2. Debian's stock submission entry added to master.cf (its -o lists replace
#      main.cf's with the undefined $mua_* ones): exit 1, port 587 named, the fix
#      printed; port 25 still reported ok;
#   3. Prometheus stopped: exit 1, Prometheus named.
# Nothing is reloaded: doctor reads the configuration, it changes nothing.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands unset variables in heredocs
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/stack.sh
. "$here/../lib/stack.sh"
CTL=$SASLGUARD_BUILD_DIR/receiver/saslguardctl
[ -x "$CTL" ] || fail "no $CTL"

work=$(make_workdir doctor)
cleanup_push "rm -rf '$work'"
STACK_QUIET=1 stack_start "$work" confirm
pf_env "$work/pf"
cfg=$work/receiver/receiver.yml

doctor() { set +e; "$CTL" --config "$cfg" doctor > "$work/doctor.out" 2>&1; rc=$?; set -e; cat "$work/doctor.out"; }

echo "== 1. all wired"
doctor
assert_eq "$rc" 0 "doctor exit code on a wired chain"
grep -Eq "^ok    postfix      127\.0\.0\.1:[0-9]+/inet: check_sasl_access map consulted" "$work/doctor.out" ||
  fail "the private smtpd's login map not reported as consulted"
for want in "ok    postfix      hash:$PF_SASL_ACCESS exists and is current" \
            "ok    prometheus   saslguard's alert rules are loaded" \
            "ok    prometheus   Prometheus scrapes the exporter" \
            "ok    alertmanager Alertmanager routes to receiver" \
            "ok    telegram     the bot token answers getMe" \
            "ok    sasl         sasldb"; do
  grep -qF "$want" "$work/doctor.out" || fail "missing: $want"
done

echo "== 2. Debian's stock submission entry"
postconf -c "$PF_ETC" -M submission/inet="submission inet n - n - - smtpd"
for o in "syslog_name=postfix/submission" "smtpd_tls_security_level=encrypt" \
         "smtpd_sasl_auth_enable=yes" "smtpd_tls_auth_only=yes" \
         'smtpd_client_restrictions=$mua_client_restrictions' \
         'smtpd_helo_restrictions=$mua_helo_restrictions' \
         'smtpd_sender_restrictions=$mua_sender_restrictions' \
         'smtpd_recipient_restrictions=' \
         'smtpd_relay_restrictions=permit_sasl_authenticated,reject' \
         'milter_macro_daemon_name=ORIGINATING'; do
  postconf -c "$PF_ETC" -P "submission/inet/$o"
done
doctor
assert_eq "$rc" 1 "doctor exit code with the stock submission entry"
grep -q "^FAIL  postfix      submission/inet: check_sasl_access map missing" "$work/doctor.out" ||
  fail "port 587's missing login map not reported"
grep -q "fix: .*postconf" "$work/doctor.out" || fail "no fix printed"
grep -Eq "^ok    postfix      127\.0\.0\.1:[0-9]+/inet: check_sasl_access map consulted" "$work/doctor.out" ||
  fail "the private smtpd (port 25's role) should still be reported ok"

echo "== 3. Prometheus stopped"
prom_stop "$work/prom"
doctor
assert_eq "$rc" 1 "doctor exit code with Prometheus down"
grep -q "^FAIL  prometheus   Prometheus at .* unreachable" "$work/doctor.out" ||
  fail "Prometheus down not reported"
echo "PASS: doctor_live"
