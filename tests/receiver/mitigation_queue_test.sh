#!/usr/bin/env bash
# Live: hold_mail / release_mail / delete_mail through saslguardctl against a
# private Postfix. alice submits 3 messages (one with a forged envelope sender,
# found through the SASL login Postfix recorded in the queue file), bob 3 (one
# with alice's address as envelope sender: his, not hers) and a local sendmail
# 1. Exactly alice's 3 are held, released and deleted; nobody else's mail moves.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
. "$(dirname "$0")/mitigation_lib.sh"

mit_setup mitigation-queue

pf_send "$work/pf" alice@saslguard.test alicepw
pf_send "$work/pf" alice@saslguard.test alicepw
pf_send "$work/pf" alice@saslguard.test alicepw --from forged@elsewhere.example
pf_send "$work/pf" bob@saslguard.test bobpw
pf_send "$work/pf" bob@saslguard.test bobpw
pf_send "$work/pf" bob@saslguard.test bobpw --from alice@saslguard.test
pf_sendmail "$work/pf" carol@saslguard.test

# queue_ids QUEUE-REGEX SENDER-REGEX: sorted queue ids from postqueue -j.
queue_ids() {
  postqueue -c "$PF_ETC" -j | jq -r --arg q "$1" --arg s "$2" \
    'select((.queue_name|test($q)) and (.sender|test($s))) | .queue_id' | sort
}
all_settled() { [ "$(queue_ids '^deferred$' .  | wc -l)" = 7 ]; }
wait_for 60 all_settled || fail "7 deferred messages expected: $(postqueue -c "$PF_ETC" -j)"

# login_ids LOGIN: the queue ids whose queue file records that SASL login.
login_ids() {
  local id
  for id in $(queue_ids . .); do
    if postcat -c "$PF_ETC" -e -q "$id" | grep -x "named_attribute: sasl_username=$1" >/dev/null; then
      echo "$id"
    fi
  done | sort
}
alice_ids=$(login_ids alice@saslguard.test)
others=$(comm -23 <(queue_ids . .) <(echo "$alice_ids"))
assert_eq "$(wc -l <<<"$alice_ids")" 3 "alice's messages"
assert_eq "$(wc -l <<<"$others")" 4 "other messages"

# Dry run: says how many, moves nothing.
ctl_ok "$cfg" hold-mail alice@saslguard.test --dry-run
grep -q "would hold 3 queued messages of alice@saslguard.test (dry run)" <<<"$CTL_OUT" || fail "dry run: $CTL_OUT"
assert_eq "$(queue_ids '^hold$' .)" "" "hold queue after a dry run"

ctl_ok "$cfg" hold-mail alice@saslguard.test --reason "surge"
assert_eq "$(queue_ids '^hold$' .)" "$alice_ids" "hold queue after hold-mail"
assert_eq "$(queue_ids '^deferred$' .)" "$others" "deferred queue after hold-mail"
ctl_ok "$cfg" list-blocks
grep -q $'^hold\talice@saslguard.test\t' <<<"$CTL_OUT" || fail "no hold block: $CTL_OUT"

ctl_ok "$cfg" hold-mail alice@saslguard.test
grep -q "held 0 queued messages" <<<"$CTL_OUT" || fail "repeat hold: $CTL_OUT"

ctl_ok "$cfg" release-mail alice@saslguard.test
assert_eq "$(queue_ids '^hold$' .)" "" "hold queue after release-mail"
assert_eq "$(queue_ids '^(deferred|active|incoming)$' . | wc -l)" 7 "alice's mail back in the queue"

# Delete needs --yes; the dry run counts; then exactly alice's messages go.
ctl "$cfg" delete-mail alice@saslguard.test
assert_eq "$CTL_RC" 2 "delete-mail without --yes"
grep -q -- "--yes" <<<"$CTL_OUT" || fail "no hint about --yes: $CTL_OUT"
ctl_ok "$cfg" delete-mail alice@saslguard.test --dry-run
grep -q "would delete 3 queued messages" <<<"$CTL_OUT" || fail "dry delete: $CTL_OUT"
assert_eq "$(queue_ids . . | wc -l)" 7 "queue after refused and dry deletes"
ctl_ok "$cfg" delete-mail alice@saslguard.test --yes
assert_eq "$(queue_ids . .)" "$others" "queue after delete-mail"

# An extra --sender matches mail of that sender even without a SASL login (sendmail).
ctl_ok "$cfg" hold-mail bob@saslguard.test --sender carol@saslguard.test
assert_eq "$(queue_ids '^hold$' .)" "$others" "bob's and carol's mail held"
ctl_ok "$cfg" audit
grep -qE $'delete_mail\talice@saslguard.test\tapplied' <<<"$CTL_OUT" || fail "audit: $CTL_OUT"
echo "mitigation_queue_test: ok"
