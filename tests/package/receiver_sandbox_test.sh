#!/usr/bin/env bash
# The receiver unit's sandbox lets every mitigation work, tested for real
# without systemd as PID 1 (CI has none): each mitigation runs as the receiver
# runs it (saslguardctl: same executor, commands and audit database) inside
# the mount namespace the unit declares (unit_sandbox.sh applies its
# ProtectSystem=strict, ReadWritePaths, StateDirectory, PrivateTmp, ProtectHome,
# UMask, NoNewPrivileges and CapabilityBoundingSet), against a Postfix laid out
# like a Debian mail host: /etc/postfix, /var/spool/postfix, /etc/sasldb2, a
# chrooted submission service reading /var/spool/postfix/etc/sasldb2, and a Unix
# account locked with usermod for the saslauthd+shadow backend.
#
# The "mail host" is itself a private mount namespace: /etc and /var are
# overlays whose writes land in the test's work directory, so the host's own
# /etc/postfix, /etc/sasldb2, /etc/shadow and spool are never touched, and the
# Unix account created here exists only inside the namespace.
#
# The same steps run against the unit as shipped before issue #17
# (fixtures/saslguard-receiver.service.before-17) and must fail there: that is
# what the field report found (lock_account fails, /etc is read-only; the unit
# does not start without /etc/sasldb2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
. "$here/unit_sandbox.sh"
[ "$(id -u)" = 0 ] || fail "needs root (mount namespaces, Postfix, usermod)"
CTL=$SASLGUARD_BUILD_DIR/receiver/saslguardctl
[ -x "$CTL" ] || fail "$CTL not built"
case $CTL in
  /tmp/* | /var/tmp/*) fail "$CTL is under /tmp, which the unit's PrivateTmp hides: build the tree elsewhere" ;;
esac

if [ -z "${SASLGUARD_SANDBOX_HOST:-}" ]; then
  exec env SASLGUARD_SANDBOX_HOST=1 unshare -m --propagation private bash "$0" "$@"
fi

work=$(make_workdir receiver-sandbox)
cleanup_push "rm -rf '$work'"
# --- the mail host: overlays on /etc and /var, a fresh spool --------------------
for d in etc var; do
  mkdir -p "$work/$d-upper" "$work/$d-work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d-upper,workdir=$work/$d-work" "/$d"
done
[ -z "$(ls -A "$work/etc-upper")" ] || fail "overlay not private"
mkdir -p "$work/spool" /var/spool/postfix
mount --bind "$work/spool" /var/spool/postfix
rm -rf /var/lib/postfix /var/lib/saslguard /etc/saslguard /etc/sasldb2* /etc/postfix/saslguard_*
mkdir -p /etc/postfix/sasl /var/lib/postfix /etc/saslguard

port=$(free_port) chroot_port=$(free_port)
cat > /etc/postfix/main.cf <<CF
# A Debian-like mail host for receiver_sandbox_test.sh (private namespace).
compatibility_level = 3.6
queue_directory = /var/spool/postfix
data_directory = /var/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.example.org
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:1
maillog_file = /var/log/saslguard-sandbox-mail.log
smtputf8_enable = no
minimal_backoff_time = 300s
maximal_backoff_time = 300s
queue_run_delay = 300s
smtpd_sasl_auth_enable = no
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = /etc/postfix/sasl
smtpd_tls_security_level = none
mua_client_restrictions = check_client_access hash:/etc/postfix/saslguard_client_access
mua_sender_restrictions = check_sasl_access hash:/etc/postfix/saslguard_sasl_access
# Loopback is never blocked (issue #15): the IP block is tried on 192.0.2.55,
# a client the test plays through XCLIENT from loopback.
smtpd_authorized_xclient_hosts = 127.0.0.0/8
CF
cat > /etc/postfix/master.cf <<CF
127.0.0.1:$port inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=\$mua_client_restrictions
  -o smtpd_sender_restrictions=\$mua_sender_restrictions
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$chroot_port inet n - y - - smtpd
  -o syslog_name=postfix/submission-chroot
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CF
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: /etc/sasldb2\nmech_list: PLAIN LOGIN\n' \
  > /etc/postfix/sasl/smtpd.conf
for m in saslguard_sasl_access saslguard_client_access; do
  : > /etc/postfix/$m
  postmap /etc/postfix/$m
done
# SASL accounts: /etc/sasldb2 for the plain service; the chrooted one opens
# /etc/sasldb2 inside the chroot, i.e. /var/spool/postfix/etc/sasldb2.
for db in /etc/sasldb2 /var/spool/postfix/etc/sasldb2; do
  mkdir -p "$(dirname "$db")"
  for u in alice bob; do printf '%s' "${u}pw" | saslpasswd2 -f "$db" -p -c -u example.org "$u"; done
  chown root:postfix "$db" && chmod 640 "$db"
done
cp /etc/services /etc/resolv.conf /etc/hosts /etc/nsswitch.conf /var/spool/postfix/etc/ 2>/dev/null || true
postfix set-permissions >/dev/null 2>&1 || true
postfix check || fail "postfix check"
postfix start >/dev/null 2>&1 || fail "postfix start"
cleanup_push "postfix stop >/dev/null 2>&1"
wait_for 20 test -S /var/spool/postfix/public/showq || fail "Postfix did not start"

echo "test-token-0123456789abcdef" > /etc/saslguard/webhook-token
chmod 0640 /etc/saslguard/webhook-token
cat > /etc/saslguard/receiver.yml <<YML
webhook:
  bearer_token_file: /etc/saslguard/webhook-token
mitigation:
  command_timeout: 20s
YML
sed 's|^mitigation:|mitigation:\n  sasldb_path: /var/spool/postfix/etc/sasldb2|' /etc/saslguard/receiver.yml \
  > /etc/saslguard/receiver-chroot.yml
sed 's|^mitigation:|mitigation:\n  sasl_backend: saslauthd_shadow|' /etc/saslguard/receiver.yml \
  > /etc/saslguard/receiver-shadow.yml
unix_user=sgsandbox$$
useradd -M -N -s /usr/sbin/nologin "$unix_user"
printf '%s:%s\n' "$unix_user" "pw-$unix_user" | chpasswd

# smtp PORT USER PASS: the first 4xx/5xx code of an AUTH submission, or 250 when queued.
smtp() { # PORT USER PASS [swaks args]
  local out bad
  out=$(swaks --server 127.0.0.1 --port "$1" --auth PLAIN --auth-user "$2" --auth-password "$3" \
        --from "$2" --to rcpt@remote.example --hide-informational --hide-send "${@:4}" 2>&1 || true)
  bad=$(printf '%s\n' "$out" | grep -E '^<\*\* [45][0-9][0-9]' | head -1 | cut -c5-7) || true
  if [ -n "$bad" ]; then echo "$bad"; elif grep -q 'queued as' <<<"$out"; then echo 250; else echo none; fi
}
queued_from() { postqueue -j | grep -c "\"sender\": \"$1\"" || true; }
held_from() { postqueue -j | grep "\"sender\": \"$1\"" | grep -c '"queue_name": "hold"' || true; }

# mitigate UNIT NAME CONFIG ARGS...: saslguardctl inside UNIT's sandbox; status recorded.
results=()
mitigate() {
  local unit=$1 name=$2 cfg=$3 rc=0 out
  shift 3
  out=$(unit_sandbox_run "$unit" "$CTL" --config "$cfg" "$@" 2>&1) || rc=$?
  results+=("$name=$rc")
  printf '  %-16s rc=%-3s %s\n' "$name" "$rc" "$(echo "$out" | tail -1 | cut -c1-110)" >&2
  return 0
}

# run_all UNIT: every mitigation, each checked on Postfix/SASL where it acts.
# Prints "name=ok|failed" per mitigation.
run_all() {
  local unit=$1 a=alice@example.org
  results=()
  local -A effect=()
  mitigate "$unit" block-login /etc/saslguard/receiver.yml block-login "$a"
  effect[block-login]=$(smtp "$port" "$a" alicepw)                # 554 while blocked
  mitigate "$unit" unblock-login /etc/saslguard/receiver.yml unblock-login "$a"
  effect[unblock-login]=$(smtp "$port" "$a" alicepw)              # 250 again
  mitigate "$unit" block-ips /etc/saslguard/receiver.yml block-ips 192.0.2.55
  effect[block-ips]=$(smtp "$port" bob@example.org bobpw --xclient-addr 192.0.2.55)    # 554
  mitigate "$unit" unblock-ips /etc/saslguard/receiver.yml unblock-ips 192.0.2.55
  effect[unblock-ips]=$(smtp "$port" bob@example.org bobpw --xclient-addr 192.0.2.55)  # 250
  mitigate "$unit" hold-mail /etc/saslguard/receiver.yml hold-mail "$a"
  effect[hold-mail]=$(held_from "$a")                             # > 0
  mitigate "$unit" release-mail /etc/saslguard/receiver.yml release-mail "$a"
  effect[release-mail]=$(held_from "$a")                          # 0
  mitigate "$unit" delete-mail /etc/saslguard/receiver.yml delete-mail --yes "$a"
  effect[delete-mail]=$(queued_from "$a")                         # 0
  mitigate "$unit" lock-sasldb /etc/saslguard/receiver.yml lock-account "$a"
  effect[lock-sasldb]=$(smtp "$port" "$a" alicepw)                # 535
  mitigate "$unit" unlock-sasldb /etc/saslguard/receiver.yml unlock-account "$a"
  effect[unlock-sasldb]=$(smtp "$port" "$a" alicepw)              # 250
  mitigate "$unit" lock-chroot /etc/saslguard/receiver-chroot.yml lock-account "$a"
  effect[lock-chroot]=$(smtp "$chroot_port" "$a" alicepw)         # 535
  mitigate "$unit" unlock-chroot /etc/saslguard/receiver-chroot.yml unlock-account "$a"
  effect[unlock-chroot]=$(smtp "$chroot_port" "$a" alicepw)       # 250
  mitigate "$unit" lock-shadow /etc/saslguard/receiver-shadow.yml lock-account "$unix_user"
  effect[lock-shadow]=$(passwd -S "$unix_user" | cut -d' ' -f2)   # L
  mitigate "$unit" unlock-shadow /etc/saslguard/receiver-shadow.yml unlock-account "$unix_user"
  effect[unlock-shadow]=$(passwd -S "$unix_user" | cut -d' ' -f2) # P
  local -A want=([block-login]=554 [unblock-login]=250 [block-ips]=554 [unblock-ips]=250
    [hold-mail]=+ [release-mail]=0 [delete-mail]=0 [lock-sasldb]=535 [unlock-sasldb]=250
    [lock-chroot]=535 [unlock-chroot]=250 [lock-shadow]=L [unlock-shadow]=P)
  local r name rc verdict
  for r in "${results[@]}"; do
    name=${r%=*} rc=${r#*=} verdict=ok
    [ "$rc" = 0 ] || verdict=failed
    if [ "${want[$name]}" = + ]; then
      [ "${effect[$name]}" -gt 0 ] 2>/dev/null || verdict=failed
    elif [ "${effect[$name]}" != "${want[$name]}" ]; then
      verdict=failed
    fi
    echo "$name=$verdict (rc $rc, effect ${effect[$name]}, want ${want[$name]})"
  done
}

# Mail from alice to hold, release and delete (the dead relayhost keeps it queued).
for i in 1 2; do assert_eq "$(smtp "$port" alice@example.org alicepw)" 250 "alice sends"; done
assert_eq "$(smtp "$chroot_port" alice@example.org alicepw)" 250 "alice through the chrooted service"

shipped=$SASLGUARD_SOURCE_DIR/deploy/systemd/saslguard-receiver.service
before=$here/fixtures/saslguard-receiver.service.before-17

echo "== shipped unit ($shipped)" >&2
after_out=$(run_all "$shipped")
echo "$after_out"
! grep -q '=failed' <<<"$after_out" || fail "a mitigation fails in the shipped unit's sandbox"
# Neither /etc/sasldb2 nor the chroot copy may be needed for the unit to start.
mv /etc/sasldb2 "$work/sasldb2.aside"
unit_sandbox_run "$shipped" true || fail "the shipped unit does not start without /etc/sasldb2"
mv "$work/sasldb2.aside" /etc/sasldb2

echo "== unit before issue #17 ($before)" >&2
for i in 1 2; do smtp "$port" alice@example.org alicepw >/dev/null; done
before_out=$(run_all "$before")
echo "$before_out"
grep -q '^lock-sasldb=failed' <<<"$before_out" || fail "the old unit was expected to fail lock-sasldb"
grep -q '^lock-shadow=failed' <<<"$before_out" || fail "the old unit was expected to fail lock-shadow"
mv /etc/sasldb2 "$work/sasldb2.aside"
rc=0
unit_sandbox_run "$before" true 2>/dev/null || rc=$?
assert_eq "$rc" 226 "the old unit without /etc/sasldb2 (systemd: 226/NAMESPACE)"
mv "$work/sasldb2.aside" /etc/sasldb2
echo "receiver_sandbox_test: ok"
