#!/usr/bin/env bash
# The Grafana dashboard, checked without Grafana (not in Debian):
#   1. structure (dashboard_check.py structure) and that grafana/generate.py
#      reproduces the committed JSON; a deliberately broken copy must fail;
#   2. every PromQL expression of the dashboard, variables substituted, against a
#      real Prometheus that scraped a real exporter (and the real receiver when it
#      is built) through a compromised-account scenario (scenario.sh): each must
#      parse; exporter and rule expressions must return data; the report lists
#      which receiver expressions returned data.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands unset names in pf_create
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/prometheus.sh
. "$here/../lib/prometheus.sh"
# shellcheck source=../lib/postfix.sh
. "$here/../lib/postfix.sh"
# shellcheck source=scenario.sh
. "$here/scenario.sh"
dash=$SASLGUARD_SOURCE_DIR/grafana/provisioning/dashboards/saslguard/saslguard.json
check=$here/dashboard_check.py

python3 "$SASLGUARD_SOURCE_DIR/grafana/generate.py" --check
python3 "$check" structure "$dash"

work=$(make_workdir grafana)
cleanup_push "rm -rf '$work'"
# The checker must be able to fail: no unit, an undefined variable, a duplicate id.
jq '.panels[1].fieldConfig.defaults.unit = "" | .panels[2].targets[0].expr += " + $nosuchvar"
    | .panels[3].id = .panels[2].id' "$dash" > "$work/broken.json"
if python3 "$check" structure "$work/broken.json" 2> "$work/broken.err"; then
  fail "a broken dashboard passed the structure check"
fi
for want in "no unit" "undefined variable \$nosuchvar" "duplicate id"; do
  grep -qF "$want" "$work/broken.err" || fail "structure check did not report: $want"
done

scenario_start "$work" 30
echo "scenario: exporter $SCENARIO_EXPORTER, receiver ${SCENARIO_RECEIVER:-not built/not running}, Prometheus $PROM_URL"
# Every exporter and rule expression must return data. The rules of the 1m
# groups (volume, deliveries) record a user only once the burst's series have
# two samples in their window and the group has run after that: up to a scrape
# and an evaluation interval after the alert. So the check is repeated until it
# passes or 120 s have gone by; the last report is the one shown.
deadline=$((SECONDS + 120))
until python3 "$check" queries "$dash" "$PROM_URL" --report "$work/report.txt" > "$work/check.out" 2>&1; do
  [ "$SECONDS" -lt "$deadline" ] || { cat "$work/check.out"; fail "dashboard queries without data 120 s after the alert"; }
  sleep 10
done
cat "$work/check.out"
echo "receiver expressions: $(grep -c '^data *receiver' "$work/report.txt" || true) with data," \
     "$(grep -c '^NO DATA *receiver' "$work/report.txt" || true) without (receiver ${SCENARIO_RECEIVER:-absent})"

# The scenario's facts, as the panels' queries show them.
top_user=$(prom_query 'topk(1, sasl_username:postfix_sasl_user_messages:rate1m)' | jq -r '.data.result[0].metric.sasl_username')
assert_eq "$top_user" "alice@saslguard.test" "top SASL user by messages/s"
queued=$(prom_query_value 'postfix_queue_sender_messages{sender="alice@saslguard.test"}')
[ "${queued:-0}" -ge 12 ] || fail "top queued senders: alice@saslguard.test has ${queued:-no} queued, expected >= 12 (real submissions)"
ips=$(prom_query_value 'postfix_sasl_user_client_ips{sasl_username="alice@saslguard.test"}')
[ "${ips:-0}" -ge 10 ] || fail "alice's distinct client IPs: ${ips:-none}, expected >= 10"
guesser=$(prom_query_value 'postfix_sasl_failures_by_client_ip{client_ip="203.0.113.7"}')
[ -n "$guesser" ] && [ "$guesser" -ge 5 ] ||
  fail "top failing client IPs: 203.0.113.7 has ${guesser:-no series}, expected >= 5 (the exporter must count 'SASL … authentication failed' lines)"
alice_newnet='sasl_username:postfix_sasl_user_new_source_messages:increase15m{sasl_username="alice@saslguard.test"}'
prom_wait_value 120 "$alice_newnet" || fail "alice's messages from new networks were never recorded"
newnet=$(prom_query_value "$alice_newnet")
[ "${newnet%.*}" -ge 10 ] 2>/dev/null || fail "messages from new networks: alice has ${newnet:-none}, expected >= 10 (her burst comes from a /24 she never used)"
# The deliveries group (every minute) names alice once her unknown recipients
# reach user_unknown_min in its window: wait for that evaluation.
prom_wait_value 120 'sasl_username:postfix_sasl_user_unknown_recipients:ratio15m{sasl_username="alice@saslguard.test"}' ||
  fail "alice's unknown-recipient share was never recorded"
unknown_top=$(prom_query 'topk(1, sasl_username:postfix_sasl_user_unknown_recipients:ratio15m)' | jq -r '.data.result[0].metric.sasl_username')
assert_eq "$unknown_top" "alice@saslguard.test" "top SASL user by unknown-recipient share"
echo "scenario facts: top user $top_user, alice queued $queued, alice IPs $ips, 203.0.113.7 failures $guesser," \
     "alice's messages from new networks $newnet, top unknown-recipient share $unknown_top"
echo ok
