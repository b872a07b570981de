#!/usr/bin/env bash
# Live: block_login / block_ips through saslguardctl against a private Postfix.
# After block-login, AUTH as alice gets a 5xx on MAIL FROM while bob still sends;
# after unblock alice sends again; dry-run changes nothing; an expired block is
# reverted by `saslguardctl expire`; block-ips refuses loopback addresses
# (never blocked) and rejects a client at 192.0.2.55 (the address given with
# XCLIENT, which the instance allows from loopback: every address this host
# could really connect from is its own, and never blocked) while others still
# send.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
. "$(dirname "$0")/mitigation_lib.sh"

mit_setup mitigation-maps

assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice before any block"

# Dry run: says what it would do, changes neither map nor state.
before=$(md5sum "$PF_SASL_ACCESS" "$PF_SASL_ACCESS.db")
ctl_ok "$cfg" block-login alice@saslguard.test --dry-run
grep -q "would block login alice@saslguard.test (dry run)" <<<"$CTL_OUT" || fail "dry run output: $CTL_OUT"
assert_eq "$(md5sum "$PF_SASL_ACCESS" "$PF_SASL_ACCESS.db")" "$before" "dry run touched the map"
ctl_ok "$cfg" list-blocks
assert_eq "$(tail -n +2 <<<"$CTL_OUT" | wc -l)" 0 "blocks after a dry run"

# Block: alice is rejected with a 5xx, bob is untouched.
ctl_ok "$cfg" block-login alice@saslguard.test --reason "test surge"
grep -qx "alice@saslguard.test REJECT 5.7.1 account blocked by saslguard" "$PF_SASL_ACCESS" || fail "map: $(cat "$PF_SASL_ACCESS")"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 554 "alice after block-login"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 250 "bob while alice is blocked"

# Repeating is idempotent: no second map line, still one block.
ctl_ok "$cfg" block-login alice@saslguard.test
grep -q "already blocked" <<<"$CTL_OUT" || fail "repeat: $CTL_OUT"
assert_eq "$(grep -c '^alice@' "$PF_SASL_ACCESS")" 1 "map lines for alice"
ctl_ok "$cfg" list-blocks
assert_eq "$(grep -c $'^login\talice@saslguard.test\t' <<<"$CTL_OUT")" 1 "login blocks for alice"

# Unblock: alice sends again (same second as the block: the mtime bump matters).
ctl_ok "$cfg" unblock-login alice@saslguard.test
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice after unblock-login"
ctl_ok "$cfg" list-blocks
assert_eq "$(tail -n +2 <<<"$CTL_OUT" | wc -l)" 0 "blocks after unblock"

# Expiry: a block with --expires is reverted by `expire` once due. The test
# cannot wait an hour: it moves the block's expiry into the past in the state DB.
ctl_ok "$cfg" block-login alice@saslguard.test --expires 1h
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 554 "alice with an expiring block"
ctl_ok "$cfg" expire
assert_eq "$CTL_OUT" "nothing due" "expire before the block is due"
sqlite3 "$PF_DIR/state.db" "UPDATE blocks SET expires_at = 1000 WHERE kind = 'login'"
ctl_ok "$cfg" expire
grep -q "unblocked login alice@saslguard.test" <<<"$CTL_OUT" || fail "expire: $CTL_OUT"
assert_eq "$(smtp_code "$work/pf" alice@saslguard.test alicepw)" 250 "alice after expiry"

# block-ips: loopback and this host's addresses are never blocked (issue #15).
ctl "$cfg" block-ips --user bob@saslguard.test 127.0.0.2
assert_eq "$CTL_RC" 1 "block-ips 127.0.0.2"
grep -q "127.0.0.2 is never blocked (a loopback address)" <<<"$CTL_OUT" || fail "refusal: $CTL_OUT"
ctl "$cfg" block-ips ::ffff:127.0.0.1
assert_eq "$CTL_RC" 1 "block-ips ::ffff:127.0.0.1"
assert_eq "$(grep -vc '^#' "$PF_CLIENT_ACCESS" || true)" 0 "client map after refused blocks"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 250 "bob from loopback after refused blocks"

# A client at 192.0.2.55 (XCLIENT from loopback) is rejected once blocked.
postconf -c "$PF_ETC" -e "smtpd_authorized_xclient_hosts = 127.0.0.0/8"
pf_reload "$work/pf"
from_55() { smtp_code "$work/pf" bob@saslguard.test bobpw --xclient-addr 192.0.2.55; }
xclient_ok() { [ "$(from_55)" = 250 ]; }  # once the reloaded smtpd allows XCLIENT
wait_for 30 xclient_ok || fail "bob from 192.0.2.55 before block-ips: $(from_55)"
ctl_ok "$cfg" block-ips --user bob@saslguard.test 192.0.2.55 --reason "spam source"
grep -qx "192.0.2.55 REJECT 5.7.1 client address blocked by saslguard" "$PF_CLIENT_ACCESS" || fail "client map: $(cat "$PF_CLIENT_ACCESS")"
assert_eq "$(from_55)" 554 "bob from blocked 192.0.2.55"
assert_eq "$(smtp_code "$work/pf" bob@saslguard.test bobpw)" 250 "bob from loopback"
ctl_ok "$cfg" unblock-ips 192.0.2.55
assert_eq "$(from_55)" 250 "bob from 192.0.2.55 after unblock"

# Concurrent saslguardctl processes (flock on the lock file) lose no entry.
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$SASLGUARDCTL" --config "$cfg" block-login "user$i@saslguard.test" >/dev/null 2>&1 & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent block-login failed"; done
assert_eq "$(grep -c '^user[1-8]@saslguard.test REJECT' "$PF_SASL_ACCESS")" 8 "map lines after 8 concurrent blocks"
assert_eq "$(postmap -c "$PF_ETC" -s "hash:$PF_SASL_ACCESS" | grep -c '^user')" 8 "entries in the compiled map"
ctl_ok "$cfg" list-blocks
assert_eq "$(grep -c $'^login\tuser' <<<"$CTL_OUT")" 8 "login blocks after 8 concurrent blocks"
for i in 1 2 3 4 5 6 7 8; do ctl_ok "$cfg" unblock-login "user$i@saslguard.test"; done 2>/dev/null

# A hostile name never reaches the map; the refusal is audited.
ctl "$cfg" block-login $'a\nREJECT'
assert_eq "$CTL_RC" 1 "hostile name exit status"
ctl "$cfg" block-login -- '-rf'
assert_eq "$CTL_RC" 1 "leading dash exit status"
grep -q "REJECT" <(grep -v '^#' "$PF_SASL_ACCESS") && fail "map not empty: $(cat "$PF_SASL_ACCESS")"
ctl_ok "$cfg" audit --limit 3
grep -q $'failed\tno' <<<"$CTL_OUT" || fail "refusal not audited: $CTL_OUT"

# The audit trail has who/why/result for the block, and marks it reverted.
ctl_ok "$cfg" audit --limit 100
grep -qE $'block_login\talice@saslguard.test\treverted\tno' <<<"$CTL_OUT" || fail "audit: $CTL_OUT"
grep -q '"test surge"\|test surge' <(sqlite3 "$PF_DIR/state.db" "SELECT reason FROM actions") || fail "reason not stored"
echo "mitigation_maps_test: ok"
