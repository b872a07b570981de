#!/usr/bin/env bash
# Cost of evicting users past --max-users (issue #15), one command:
#   bench/exporter_eviction/run.sh [CAP]          (default 10000)
# Two generated logs with the same number of lines per user: CAP users (the
# table just fills, nothing is evicted) and 2 x CAP users (every user past the
# cap evicts the idlest one). `saslguard-exporter --oneshot --max-users=CAP`
# reads each; the CPU time (user + sys, best of 3) of the 2x run against the
# at-cap run is the figure. Linear eviction made it ~200x (62 s against 0.3 s
# at 10,000); O(1) eviction keeps it near 2x (twice the lines).
# With CHECK_RATIO=R it exits 1 when the ratio exceeds R (tests/exporter uses it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/lib/common.sh"
cap=${1:-10000}
exporter=${EXPORTER:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}
[ -x "$exporter" ] || { echo "build saslguard-exporter first ($exporter)" >&2; exit 2; }
work=$(make_workdir eviction)
trap 'rm -rf "$work"' EXIT

# gen USERS FILE: each user submits 2 messages (client=, qmgr, delivery, removed),
# users interleaved so that the table is always full of recently active users.
gen() {
  python3 - "$1" "$2" <<'PY'
import sys, time
users, path = int(sys.argv[1]), sys.argv[2]
t0 = 1_800_000_000
with open(path, "w") as f:
    q = 0
    for rnd in range(2):
        for u in range(users):
            q += 1
            t = t0 + rnd * users + u
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ mail", time.gmtime(t))
            qid = f"{q:010X}"
            f.write(f"{ts} postfix/submission/smtpd[1]: {qid}: client=unknown[10.{u // 65536 % 256}.{u // 256 % 256}.{u % 256}], sasl_method=PLAIN, sasl_username=user{u}@example.org\n")
            f.write(f"{ts} postfix/qmgr[2]: {qid}: from=<user{u}@example.org>, size=900, nrcpt=1 (queue active)\n")
            f.write(f"{ts} postfix/smtp[3]: {qid}: to=<r{u}@remote.example>, relay=mx[192.0.2.1]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=2.0.0, status=sent (250 ok)\n")
            f.write(f"{ts} postfix/qmgr[2]: {qid}: removed\n")
PY
}

# cpu LOG: best user+sys seconds of 3 runs; checks the eviction counter.
cpu() {
  local log=$1 expect_evicted=$2 best=999999 i c
  for i in 1 2 3; do
    /usr/bin/time -f '%U %S' -o "$work/time" "$exporter" --oneshot "$log" --max-users="$cap" > "$work/out.prom"
    c=$(awk '{print $1 + $2}' "$work/time")
    best=$(python3 -c "print(min($best, $c))")
  done
  local evicted
  evicted=$(awk '/^saslguard_exporter_users_evicted_total /{print $2}' "$work/out.prom")
  [ "${evicted%.*}" = "$expect_evicted" ] || fail "expected $expect_evicted evictions, the exporter counted $evicted"
  echo "$best"
}

gen "$cap" "$work/at-cap.log"
gen $((cap * 2)) "$work/twice.log"
at=$(cpu "$work/at-cap.log" 0)
# Round 1 evicts cap users, round 2 evicts all 2*cap again (each returns after being evicted).
twice=$(cpu "$work/twice.log" $((cap * 3)))
ratio=$(python3 -c "print(f'{$twice / max($at, 0.01):.1f}')")
echo "eviction: --max-users=$cap; $cap users (no eviction) ${at}s CPU; $((cap * 2)) users ($((cap * 3)) evictions) ${twice}s CPU; ratio ${ratio}x (twice the lines: ~2x expected)"
if [ -n "${CHECK_RATIO:-}" ]; then
  python3 -c "import sys; sys.exit(0 if $ratio <= ${CHECK_RATIO} else 1)" ||
    fail "2x-cap run costs ${ratio}x the at-cap run (limit ${CHECK_RATIO}x): eviction is not O(1) any more"
fi
