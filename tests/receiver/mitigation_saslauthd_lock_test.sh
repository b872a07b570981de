#!/usr/bin/env bash
# Live: lock_account / unlock_account with the saslauthd+shadow backend. A
# private saslauthd (-a shadow, own socket dir) serves a private Postfix whose
# smtpd.conf uses pwcheck_method: saslauthd; two throwaway Unix accounts are
# created for the test. usermod -L makes AUTH fail (535) for one while the other
# still sends; usermod -U restores it; the password hash itself never changes.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
. "$(dirname "$0")/mitigation_lib.sh"
. "$SASLGUARD_SOURCE_DIR/tests/lib/saslauthd.sh"

[ "$(id -u)" = 0 ] || fail "needs root (saslauthd -a shadow, useradd)"
work=$(make_workdir mitigation-saslauthd)
cleanup_push "rm -rf '$work'"
suffix=$(printf '%04x' $((RANDOM % 65536)))
u1=sgtlock$suffix u2=sgtkeep$suffix
sa_add_unix_user "$u1" "pw-$u1"
sa_add_unix_user "$u2" "pw-$u2"
sa_start "$work/sa"
cleanup_push "sa_stop '$work/sa'"
wait_for 10 sa_check "$work/sa" "$u1" "pw-$u1" || fail "saslauthd does not accept $u1"

pf_create "$work/pf"
pf_use_saslauthd "$work/pf" "$work/sa"
cleanup_push "pf_stop '$work/pf'"
pf_start "$work/pf"
pf_env "$work/pf"
cfg=$work/receiver.yml
mit_config "$work/pf" "$cfg" "sasl_backend: saslauthd_shadow"
hash_before=$(getent shadow "$u1" | cut -d: -f2)

assert_eq "$(smtp_code "$work/pf" "$u1" "pw-$u1" --from "$u1@saslguard.test")" 250 "$u1 before the lock"

ctl_ok "$cfg" lock-account "$u1" --dry-run
grep -q "would lock Unix account $u1 (usermod -L)" <<<"$CTL_OUT" || fail "dry run: $CTL_OUT"
assert_eq "$(passwd -S "$u1" | cut -d' ' -f2)" P "status after a dry run"

ctl_ok "$cfg" lock-account "$u1"
assert_eq "$(passwd -S "$u1" | cut -d' ' -f2)" L "status after lock"
assert_eq "$(smtp_code "$work/pf" "$u1" "pw-$u1" --from "$u1@saslguard.test")" 535 "$u1 AUTH while locked"
assert_eq "$(smtp_code "$work/pf" "$u2" "pw-$u2" --from "$u2@saslguard.test")" 250 "$u2 while $u1 is locked"
ctl_ok "$cfg" lock-account "$u1"
grep -q "already locked" <<<"$CTL_OUT" || fail "repeat lock: $CTL_OUT"

ctl_ok "$cfg" unlock-account "$u1"
assert_eq "$(smtp_code "$work/pf" "$u1" "pw-$u1" --from "$u1@saslguard.test")" 250 "$u1 after unlock"
assert_eq "$(getent shadow "$u1" | cut -d: -f2)" "$hash_before" "password hash after lock+unlock"

# System accounts are never locked, whatever the login says.
postfix_status=$(passwd -S postfix)
ctl "$cfg" lock-account postfix
assert_eq "$CTL_RC" 1 "locking the postfix system account"
grep -q "refusing to lock system account postfix" <<<"$CTL_OUT" || fail "system account: $CTL_OUT"
assert_eq "$(passwd -S postfix)" "$postfix_status" "postfix account untouched"
echo "mitigation_saslauthd_lock_test: ok"
