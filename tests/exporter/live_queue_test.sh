#!/usr/bin/env bash
# Live test of the exporter's queue metrics against a real private Postfix
# (tests/lib/postfix.sh: 127.0.0.1, Cyrus sasldb, dead relayhost so mail stays
# deferred). Queues mail from several senders over SMTP AUTH (swaks) and the
# sendmail/pickup path, holds some with postsuper, and checks the depth per
# queue and the per-sender counts exactly in /metrics; then stops Postfix and
# checks postfix_up 0, a counted error, the last listing kept and /metrics
# still answering; then starts Postfix again and checks postfix_up 1.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands $config_directory in a heredoc
. "$(dirname "$0")/../lib/postfix.sh"

exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
[ -x "$exporter" ] || fail "no exporter binary at $exporter (build saslguard-exporter)"

work=$(make_workdir live-queue)
cleanup_push "rm -rf '$work'"
pf=$work/pf
pf_create "$pf"
pf_env "$pf"
pf_add_user "$pf" alice@saslguard.test alice-secret
pf_add_user "$pf" bob@saslguard.test bob-secret
pf_start "$pf"
cleanup_push "pf_stop '$pf'"

port=$(free_port)
"$exporter" --web.listen-address="127.0.0.1:$port" --log.path="$PF_LOG" \
  --showq.path="$PF_SHOWQ" --queue.refresh-interval=200ms --showq.timeout=5s \
  --queue.top-senders=2 > "$work/exporter.log" 2>&1 &
exporter_pid=$!
cleanup_push "kill $exporter_pid 2>/dev/null; wait $exporter_pid 2>/dev/null"
url=http://127.0.0.1:$port/metrics
wait_http "$url" 20 || { cat "$work/exporter.log" >&2; fail "exporter did not answer"; }

# metric 'NAME{LABELS}': the sample's value in the current /metrics ("" if absent).
metric() {
  curl -fsS --max-time 5 "$url" | awk -v k="$1" '$1 == k { print $2 }'
}

# metric_is 'NAME{LABELS}' VALUE: for wait_for (re-reads /metrics on every try).
metric_is() { [ "$(metric "$1")" = "$2" ]; }

# An empty queue first: every queue present at 0.
wait_for 20 metric_is postfix_up 1 || fail "postfix_up never became 1"
for q in active deferred hold incoming maildrop; do
  assert_eq "$(metric "postfix_showq_queue_depth{queue=\"$q\"}")" 0 "empty $q queue"
done

# 3 from alice and 2 from bob over SMTP AUTH; 2 from carol through sendmail.
for _ in 1 2 3; do pf_send "$pf" alice@saslguard.test alice-secret || fail "swaks alice"; done
for _ in 1 2; do pf_send "$pf" bob@saslguard.test bob-secret || fail "swaks bob"; done
for _ in 1 2; do pf_sendmail "$pf" carol@saslguard.test; done
pf_wait_log "$pf" 'status=deferred' 7 60

# Hold two of alice's and one of carol's by queue id.
ids_of() { postqueue -c "$PF_ETC" -j | jq -r --arg s "$1" 'select(.sender == $s) | .queue_id'; }
mapfile -t alice_ids < <(ids_of alice@saslguard.test)
mapfile -t carol_ids < <(ids_of carol@saslguard.test)
assert_eq "${#alice_ids[@]}" 3 "alice's queued messages (postqueue -j)"
assert_eq "${#carol_ids[@]}" 2 "carol's queued messages (postqueue -j)"
postsuper -c "$PF_ETC" -h "${alice_ids[0]}" 2>/dev/null
postsuper -c "$PF_ETC" -h "${alice_ids[1]}" 2>/dev/null
postsuper -c "$PF_ETC" -h "${carol_ids[0]}" 2>/dev/null

# Wait for a refresh that has seen the holds, then assert every value exactly.
wait_for 20 metric_is 'postfix_showq_queue_depth{queue="hold"}' 3 || fail "hold depth never reached 3"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="deferred"}')" 4 "deferred depth"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="hold"}')" 3 "hold depth"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="active"}')" 0 "active depth"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="incoming"}')" 0 "incoming depth"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="maildrop"}')" 0 "maildrop depth"
# The same numbers as postqueue -j gives.
assert_eq "$(postqueue -c "$PF_ETC" -j | jq -s '[.[] | select(.queue_name == "deferred")] | length')" 4 "postqueue -j deferred"
# --queue.top-senders=2: alice 3, then bob and carol tie at 2 (bob first by address), carol in __other__.
assert_eq "$(metric 'postfix_queue_sender_messages{sender="alice@saslguard.test"}')" 3 "alice's queued messages"
assert_eq "$(metric 'postfix_queue_sender_messages{sender="bob@saslguard.test"}')" 2 "bob's queued messages"
assert_eq "$(metric 'postfix_queue_sender_messages{sender="carol@saslguard.test"}')" "" "carol beyond top 2"
assert_eq "$(metric 'postfix_queue_sender_messages{sender="__other__"}')" 2 "__other__"
assert_eq "$(metric postfix_queue_senders)" 3 "distinct senders"
assert_eq "$(metric 'postfix_showq_message_age_seconds_count{queue="deferred"}')" 4 "age histogram count"
assert_eq "$(metric 'postfix_showq_message_size_bytes_count{queue="hold"}')" 3 "size histogram count"
assert_eq "$(metric saslguard_exporter_showq_errors_total)" 0 "no showq errors while Postfix runs"

# The queue part of the exposition passes promtool's lint.
curl -fsS "$url" | grep -E '^(# (HELP|TYPE) )?(postfix_up|postfix_showq_|postfix_queue_|saslguard_exporter_showq_)' \
  > "$work/queue.prom"
promtool check metrics < "$work/queue.prom" || fail "promtool check metrics on the queue metrics"

# Postfix stopped: postfix_up 0, the error counted, /metrics still answers at once
# and keeps the last complete listing.
pf_stop "$pf"
wait_for 20 metric_is postfix_up 0 || fail "postfix_up stayed 1 after postfix stop"
errors=$(metric saslguard_exporter_showq_errors_total)
[ "${errors:-0}" -ge 1 ] || fail "showq errors not counted: '$errors'"
t=$(curl -fsS -o /dev/null -w '%{time_total}' --max-time 2 "$url") || fail "/metrics did not answer with Postfix stopped"
awk -v t="$t" 'BEGIN { exit !(t < 0.5) }' || fail "/metrics took ${t}s with Postfix stopped"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="hold"}')" 3 "last listing kept while Postfix is down"
grep -q 'showq refresh failed' "$work/exporter.log" || fail "the failure was not logged"
kill -0 "$exporter_pid" || fail "exporter died"

# Postfix back: postfix_up 1 again.
pf_start "$pf"
wait_for 20 metric_is postfix_up 1 || fail "postfix_up did not come back"
assert_eq "$(metric 'postfix_showq_queue_depth{queue="deferred"}')" 4 "deferred depth after restart"
echo "live_queue_test: ok"
