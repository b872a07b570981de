#!/usr/bin/env bash
# Live (docs/owner-notice.md): with owner_notice enabled, blocking a login tells
# the account's owner by mail through a real private Postfix (tests/lib/postfix.sh)
# whose relayhost is smtp-sink: the mail arrives at the sink, to the owner, with
# the configured text. A login without '@' goes to login@default_domain. A
# username with header-injection characters is refused before anything is sent.
# The block goes through saslguardctl, which acts through the same executor and
# owner notifier configuration as the receiver.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
here=$(dirname "$0")
export PF_RELAY=sink
. "$here/mitigation_lib.sh"

mit_setup owner-notice
cat >> "$cfg" <<YML
owner_notice:
  enabled: true
  from: postmaster@saslguard.test
  contact: the help desk at helpdesk@saslguard.test
  default_domain: saslguard.test
  subject: "Your account {user} on {host}: {action}"
telegram:
  host_name: mail.saslguard.test
YML

sink_has() { # N: the sink holds N messages
  [ "$(pf_sink_count "$work/pf")" -ge "$1" ]
}
sink_file() { # RCPT: the dump of the transaction to RCPT (smtp-sink -d: X-Rcpt-Args: <RCPT> …)
  grep -l -i "^X-Rcpt-Args: <$1>" "$PF_SINK_DIR"/msg.* 2>/dev/null | head -1 || true
}

# 1. An address login: the owner is the login itself.
ctl_ok "$cfg" block-login alice@saslguard.test
grep -q "told the owner by mail" <<<"$CTL_OUT" || fail "saslguardctl did not tell the owner: $CTL_OUT"
wait_for 60 sink_has 1 || fail "no notice reached the sink: $(tail -5 "$PF_LOG")"
f=$(sink_file alice@saslguard.test)
[ -n "$f" ] || fail "the sink got no mail for alice: $(cat "$PF_SINK_DIR"/msg.* | head -20)"
grep -q "^X-Mail-Args: <postmaster@saslguard.test>" "$f" || fail "wrong envelope sender: $(head -5 "$f")"
grep -q "^Subject: Your account alice@saslguard.test on mail.saslguard.test: blocked logins to it" "$f" ||
  fail "wrong subject: $(grep -i '^subject' "$f")"
grep -q "^Auto-Submitted: auto-generated" "$f" || fail "no Auto-Submitted header"
grep -q "change your password" "$f" || fail "the notice does not say what to do: $(cat "$f")"
grep -q "the help desk at helpdesk@saslguard.test" "$f" || fail "no contact in the notice"
assert_eq "$(grep -ci '^X-Rcpt-Args:' "$f")" 1 "recipients of the notice"

# 2. A login without a domain: login@default_domain.
ctl_ok "$cfg" block-login carol
wait_for 60 sink_has 2 || fail "no notice for carol: $(tail -5 "$PF_LOG")"
[ -n "$(sink_file carol@saslguard.test)" ] || fail "carol's notice did not go to carol@saslguard.test"

# 3. Header injection: refused before anything runs; nothing more reaches the sink.
before=$(pf_sink_count "$work/pf")
ctl "$cfg" block-login $'alice@saslguard.test\r\nBcc: victim@evil.example'
[ "$CTL_RC" != 0 ] || fail "a username with CR LF was accepted: $CTL_OUT"
ctl "$cfg" block-login $'mallory\nBcc: victim@evil.example'
[ "$CTL_RC" != 0 ] || fail "a username with LF was accepted: $CTL_OUT"
sleep 2
pf_queue_empty() { [ "$(pf_queue_count "$work/pf")" = 0 ]; }
wait_for 60 pf_queue_empty || fail "mail left in the queue: $(postqueue -c "$PF_ETC" -p)"
assert_eq "$(pf_sink_count "$work/pf")" "$before" "messages at the sink after refused names"
if grep -qi "victim@evil.example" "$PF_SINK_DIR"/msg.*; then fail "an injected recipient got mail"; fi
echo "owner_notice_postfix_test: ok"
