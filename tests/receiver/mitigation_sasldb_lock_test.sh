#!/usr/bin/env bash
# Live: lock_account / unlock_account with the Cyrus sasldb backend, through
# saslguardctl. Locking moves alice's sasldb records to a 0600 quarantine file
# in the state directory, never beside the sasldb (AUTH then fails with 535
# while bob still sends); unlocking restores exactly those records (alice's old
# password works again); expiry unlocks by itself. A login is one account
# whatever its case: locked as Alice@SASLguard.TEST, unlocked as alice@….
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
. "$(dirname "$0")/mitigation_lib.sh"

mit_setup mitigation-sasldb "sasl_backend: sasldb"
perms=$(stat -c '%U:%G %a' "$PF_SASLDB")

assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice before the lock"

ctl_ok "$cfg" lock-account alice@saslguard.test --dry-run
grep -q "would move 1 sasldb record(s) of alice@saslguard.test" <<<"$CTL_OUT" || fail "dry run: $CTL_OUT"
sasldblistusers2 -f "$PF_SASLDB" | grep -q '^alice@saslguard.test:' || fail "dry run removed alice"

ctl_ok "$cfg" lock-account Alice@SASLguard.TEST --reason "password leaked"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 535 "alice AUTH while locked"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 250 "bob while alice is locked"
sasldblistusers2 -f "$PF_SASLDB" | grep -q '^alice@' && fail "alice still in sasldb"
quarantine=$PF_DIR/sasldb-quarantine  # the state directory: dirname of state_path
assert_eq "$(stat -c '%a' "$quarantine")" 600 "quarantine file mode"
[ -e "$PF_SASLDB.saslguard-locked" ] && fail "a quarantine file beside the sasldb"
ls -A "$(dirname "$PF_SASLDB")" | grep -qE '^sasldb2.' && fail "files beside the sasldb: $(ls -A "$(dirname "$PF_SASLDB")")"
assert_eq "$(stat -c '%U:%G %a' "$PF_SASLDB")" "$perms" "sasldb owner/mode after lock"

ctl_ok "$cfg" lock-account alice@saslguard.test
grep -q "already locked" <<<"$CTL_OUT" || fail "repeat lock: $CTL_OUT"

ctl_ok "$cfg" unlock-account alice@saslguard.test
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice AUTH after unlock (old password)"
assert_eq "$(stat -c '%U:%G %a' "$PF_SASLDB")" "$perms" "sasldb owner/mode after unlock"
assert_eq "$(grep -vc '^#' "$quarantine" || true)" 0 "quarantine empty after unlock"
ctl_ok "$cfg" unlock-account alice@saslguard.test
grep -q "is not locked" <<<"$CTL_OUT" || fail "repeat unlock: $CTL_OUT"

# An unknown account is an error, not a silent success.
ctl "$cfg" lock-account nobody@saslguard.test
assert_eq "$CTL_RC" 1 "locking an unknown account"

# Expiry unlocks.
ctl_ok "$cfg" lock-account alice@saslguard.test --expires 2h
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 535 "alice AUTH with an expiring lock"
sqlite3 "$PF_DIR/state.db" "UPDATE blocks SET expires_at = 1000 WHERE kind = 'account'"
ctl_ok "$cfg" expire
grep -q "unlocked alice@saslguard.test in sasldb" <<<"$CTL_OUT" || fail "expire: $CTL_OUT"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice AUTH after the lock expired"
echo "mitigation_sasldb_lock_test: ok"
