#!/usr/bin/env bash
# The exporter's new-source memory against a generated log's ground truth, and
# across restarts:
#   1. gen_sources.py writes 40 days of submissions (users on their usual
#      networks, a roaming user, a phone on a carrier's many /24s, IPv6, a
#      dormant account waking up from a VPS, a user back after > 30 days, an
#      evicted user) cut in two logs at day 20, and the exact expected
#      postfix_sasl_user_new_source_messages_total of each user, computed from
#      the generated events with the documented rules (learning 7d, horizon 30d),
#      not by the exporter's code.
#   2. --oneshot part 1 with --state.path, then --oneshot part 2 with the same
#      state file: the second run's counters must equal the truth for part 2
#      (which is only right if part 1's networks came back from the file).
#   3. The state file is mode 0600, bounded (users <= --max-users).
#   4. The daemon: started on a log path that does not exist, it warns (naming
#      the journal for Debian 12), waits, reads the file once it appears; SIGTERM
#      saves the memory; a restarted daemon knows the networks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
work=$(make_workdir sources-state)
cleanup_push "rm -rf '$work'"

python3 "$here/gen_sources.py" --out1 "$work/part1.log" --out2 "$work/part2.log" --truth "$work/truth.json"
flags=(--sources.learning-period=7d --sources.horizon=30d --max-users=40 --state.path="$work/state")

"$exporter" --oneshot "$work/part1.log" "${flags[@]}" > "$work/part1.prom"
[ -f "$work/state" ] || fail "no state file after the first run"
mode=$(stat -c %a "$work/state")
assert_eq "$mode" 600 "state file mode"
"$exporter" --oneshot "$work/part2.log" "${flags[@]}" > "$work/part2.prom"
promtool check metrics < "$work/part2.prom"

python3 - "$work/truth.json" "$work/part1.prom" "$work/part2.prom" "$work/state" <<'PY'
import json, re, sys
truth = json.load(open(sys.argv[1]))
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r'^(\w+)\{sasl_username="([^"]*)"\} (\S+)$', line)
        if m: out[(m.group(1), m.group(2))] = float(m.group(3))
    return out
bad = 0
for part, path in (("part1", sys.argv[2]), ("part2", sys.argv[3])):
    got = read(path)
    for user, want in truth[part]["new_source_messages"].items():
        # Absent means none: the exporter publishes the counter only above 0.
        have = got.get(("postfix_sasl_user_new_source_messages_total", user), 0.0)
        if have != want:
            print(f"FAIL {part} {user}: new_source_messages expected {want}, exporter says {have}")
            bad += 1
    for user, want in truth[part]["unknown_recipients"].items():
        have = got.get(("postfix_sasl_user_unknown_recipients_total", user))
        if have != want:
            print(f"FAIL {part} {user}: unknown_recipients expected {want}, exporter says {have}")
            bad += 1
users = [l for l in open(sys.argv[4]) if l.startswith("user\t")]
if len(users) > 40:
    print(f"FAIL state file holds {len(users)} users, above --max-users=40"); bad += 1
n = sum(len(truth[p]["new_source_messages"]) for p in ("part1", "part2"))
print(f"ground truth: {n} user counters compared, {bad} wrong; state file {len(users)} users")
sys.exit(1 if bad else 0)
PY

# The daemon: missing log, then restart with the state.
log=$work/later/mail.log
port=$(free_port)
start_daemon() {
  "$exporter" --web.listen-address="127.0.0.1:$port" --log.path="$log" --log.from-start \
    --log.poll-interval=100ms --showq.path= --sources.learning-period=0 --sources.new-for=1s --state.path="$work/daemon.state" \
    > "$work/daemon-$1.log" 2>&1 &
  daemon_pid=$!
  cleanup_push "kill $daemon_pid 2>/dev/null; wait $daemon_pid 2>/dev/null"
  wait_http "http://127.0.0.1:$port/metrics" 30 || fail "exporter did not start: $(cat "$work/daemon-$1.log")"
}
metric() {
  curl -fsS "http://127.0.0.1:$port/metrics" | awk -v s="$1" '$1 == s {print $2; found=1} END {if (!found) print "absent"}'
}
line() { # USER IP QID
  printf '%s mail postfix/submission/smtpd[7]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$3" "$2" "$1"
}
start_daemon 1
grep -q 'log file does not exist' "$work/daemon-1.log" || fail "no warning about the missing log: $(cat "$work/daemon-1.log")"
grep -q 'journal' "$work/daemon-1.log" || fail "the warning does not point at --log.source=journal"
mkdir -p "$(dirname "$log")"
line roamer@example.org 192.0.2.10 AAAAA00001 >> "$log"
line roamer@example.org 198.51.100.10 AAAAA00002 >> "$log"
s='postfix_sasl_user_new_source_messages_total{sasl_username="roamer@example.org"}'
wait_for 20 bash -c "[ \"\$(curl -fsS http://127.0.0.1:$port/metrics | awk '\$1 == \"postfix_sasl_user_messages_total{sasl_username=\\\"roamer@example.org\\\"}\" {print \$2}')\" = 2 ]" ||
  fail "the exporter did not read the log once it appeared"
grep -q 'log file appeared' "$work/daemon-1.log" || fail "no note that the log appeared"
assert_eq "$(metric "$s")" 2 "new sources before the restart"
kill -TERM "$daemon_pid"; wait "$daemon_pid" || fail "exporter exited non-zero on SIGTERM: $(cat "$work/daemon-1.log")"
grep -q $'roamer@example.org\t' "$work/daemon.state" || fail "SIGTERM did not save the state"

: > "$log"
sleep 2  # past --sources.new-for=1s: 192.0.2.0/24 is now simply known
start_daemon 2
line roamer@example.org 192.0.2.99 AAAAA00003 >> "$log"    # known /24
line roamer@example.org 203.0.113.5 AAAAA00004 >> "$log"   # new
wait_for 20 bash -c "curl -fsS http://127.0.0.1:$port/metrics | grep -q '^postfix_sasl_user_messages_total{sasl_username=\"roamer@example.org\"} 2'" ||
  fail "the restarted exporter did not read the new lines"
assert_eq "$(metric "$s")" 1 "new sources after the restart (192.0.2.0/24 must be remembered)"
echo "ok: new sources exact against the ground truth, across oneshot runs and a daemon restart"
