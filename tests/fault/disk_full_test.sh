#!/usr/bin/env bash
# Fault: the file system holding the receiver's SQLite state fills up.
# Expected:
#   - while it is full, webhooks the receiver cannot commit are answered 5xx
#     (Alertmanager retries them), never 200;
#   - every webhook answered 200 is in the database (nothing acknowledged is lost);
#   - the receiver keeps running, and once space returns the retried webhooks are
#     answered 200 and every alert ends up stored once and processed ('done').
# The state lives on a small private tmpfs (`mount -t tmpfs -o size=…`), filled
# with a filler file. Needs root (CAP_SYS_ADMIN) for the mount: without it the
# test exits 77 (CTest: skipped) and says so — except under CI=true, where it fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../receiver/receiver_lib.sh
. "$here/../receiver/receiver_lib.sh"

[ -x "$RCV_BIN" ] || fail "no receiver at $RCV_BIN: build the saslguard-receiver target first"
work=$(make_workdir fault-disk)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
mkdir -p "$work/state"
if ! mount -t tmpfs -o size=6m,mode=0755 saslguard-fault "$work/state" 2>"$work/mount.err"; then
  # CI runs as root and must run this test: there, not being able to mount is a failure.
  [ "${CI:-}" = true ] && fail "cannot mount a tmpfs ($(cat "$work/mount.err")); CI must run this test as root"
  echo "SKIP: cannot mount a tmpfs here ($(cat "$work/mount.err")); run as root" >&2
  exit 77
fi
cleanup_push "umount -l '$work/state'"

rcv_create "$work/rcv" "$(rcv_dry_run_yaml "$work/rcv")"
sed -i "s|^state_path: .*|state_path: $work/state/state.db|" "$work/rcv/receiver.yml"
rcv_start "$work/rcv"
. "$work/rcv/rcv_env"
sql() { sqlite3 -cmd ".timeout 5000" "$work/state/state.db" "$1"; }

# send.py FIRST LAST OUT, or send.py @FILE OUT (the indices listed in FILE):
# one POST per alert (fingerprint = index), prints "<index> <http status>" per
# alert to OUT. Each carries 4 KiB of annotation so every commit needs fresh
# pages. One process per phase: a python3 start per alert cost ~0.45 s (more
# under load) and timed the test out.
cat > "$work/send.py" <<'PY'
import http.client, json, sys
url_port, token = int(sys.argv[1]), open(sys.argv[2]).read().strip()
if sys.argv[3].startswith("@"):
    indices, out = [int(l) for l in open(sys.argv[3][1:]) if l.strip()], sys.argv[4]
else:
    indices, out = range(int(sys.argv[3]), int(sys.argv[4]) + 1), sys.argv[5]
with open(out, "w") as f:
    for i in indices:
        labels = {"alertname": "SaslUserSendingSurge", "sasl_username": f"full{i}@saslguard.test",
                  "severity": "critical", "mitigation": "notify"}
        ann = {"summary": f"full{i}", "description": "x" * 4096}
        a = {"status": "firing", "labels": labels, "annotations": ann, "startsAt": "2026-11-23T09:00:00Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://127.0.0.1:9090/graph",
             "fingerprint": "%016x" % (0xd15c0000 + i)}
        body = json.dumps({"version": "4", "groupKey": f"full{i}", "truncatedAlerts": 0, "status": "firing",
                           "receiver": "saslguard", "groupLabels": {}, "commonLabels": labels,
                           "commonAnnotations": ann, "externalURL": "http://127.0.0.1:9093", "alerts": [a]})
        c = http.client.HTTPConnection("127.0.0.1", url_port, timeout=30)
        c.request("POST", "/alertmanager", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
        r = c.getresponse(); r.read(); c.close()
        print(i, r.status, file=f, flush=True)
PY
send() { python3 "$work/send.py" "$RCV_PORT" "$RCV_TOKEN_FILE" "$@"; }

# 1. Room to spare: 20 alerts, all 200.
send 1 20 "$work/phase1"
assert_eq "$(awk '$2 != 200' "$work/phase1" | wc -l)" 0 "phase 1 non-200 answers"

# 2. Fill the file system, then send 100 more.
dd if=/dev/zero of="$work/state/filler" bs=64k 2>/dev/null || true
echo "tmpfs after filling: $(df -k "$work/state" | awk 'NR==2 {print $4}') KiB free"
send 21 120 "$work/phase2"
ok2=$(awk '$2 == 200' "$work/phase2" | wc -l)
err2=$(awk '$2 >= 500' "$work/phase2" | wc -l)
other2=$(awk '$2 != 200 && $2 < 500' "$work/phase2" | wc -l)
echo "disk full: $ok2 answered 200, $err2 answered 5xx, $other2 other"
assert_eq "$other2" 0 "answers other than 200 and 5xx while full"
[ "$err2" -gt 0 ] || fail "the full disk never produced a 5xx: the fault was not provoked"
kill -0 "$(cat "$work/rcv/receiver.pid")" || fail "receiver died on a full disk: $(tail -5 "$work/rcv/receiver.log")"
grep -q 'SQLITE_FULL\|database or disk is full\|disk' "$work/rcv/receiver.log" ||
  fail "receiver did not log the full disk"

# Every alert answered 200 so far is stored (read-only query: works on a full fs).
acked=$(cat "$work/phase1" "$work/phase2" | awk '$2 == 200 {print $1}' | sort -n)
stored=$(sql "SELECT fingerprint FROM alerts" | while read -r fp; do echo $((16#$fp - 0xd15c0000)); done | sort -n)
missing=$(comm -23 <(echo "$acked") <(echo "$stored") | wc -l)
assert_eq "$missing" 0 "alerts answered 200 but not stored"

# 3. Space returns: Alertmanager's retry of every 5xx alert is answered 200.
rm -f "$work/state/filler"
awk '$2 != 200 {print $1}' "$work/phase2" > "$work/retry"
send "@$work/retry" "$work/phase3"
assert_eq "$(awk '$2 != 200' "$work/phase3" | wc -l)" 0 "retries not answered 200 after space returned"

assert_eq "$(sql "SELECT count(*) FROM alerts")" 120 "alerts stored"
assert_eq "$(sql "SELECT count(DISTINCT fingerprint) FROM alerts")" 120 "distinct alerts stored"
not_done() { [ "$(sql "SELECT count(*) FROM alerts WHERE state != 'done'")" = 0 ]; }
wait_for 120 not_done ||
  fail "worker did not finish after space returned: $(sql "SELECT state, count(*) FROM alerts GROUP BY state")"
echo "after recovery: 120 alerts stored once, all done"
echo ok
