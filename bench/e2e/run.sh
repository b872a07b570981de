#!/usr/bin/env bash
# Benchmark: the whole chain (tests/lib/stack.sh, the same scenario as the demo
# and tests/e2e/full_chain_test.sh) run N times; prints each run and the medians
# of: burst start → alert firing, → Telegram message, → block; alert → message;
# spam messages accepted before the block. The baseline is the target set for
# the shipped configs (alert → message ≤ 5 s, burst → block ≤ 45 s in auto mode,
# ≤ 500 spam accepted at 10 msg/s): each median is shown as a ratio to it.
#
#   bench/e2e/run.sh [N] [auto|confirm]        (defaults 3, auto)
# Needs root, the dependencies (scripts/install-deps.sh) and built binaries
# (SASLGUARD_BUILD_DIR, default build/). About 80 s per run.
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-3}
mode=${2:-auto}
# shellcheck source=../../tests/lib/stack.sh
. "$here/../../tests/lib/stack.sh"

out=$(make_workdir e2e-bench-results)
cleanup_push "rm -rf '$out'"
echo "e2e benchmark: $n runs, $mode mode, burst ${STACK_BURST_RATE:-10} msg/s from ${STACK_BURST_IPS:-40} addresses"
printf '%4s %8s %8s %8s %8s %9s\n' run alert notify block "al→msg" accepted
for i in $(seq 1 "$n"); do
  # One subshell per run: its own cleanup stack stops that run's daemons.
  if ( _cleanups=()
       work=$(make_workdir e2e-bench)
       cleanup_push "rm -rf '$work'"
       STACK_QUIET=1 stack_start "$work" "$mode" > "$out/start$i.log" 2>&1
       STACK_QUIET=1 stack_scenario "$work"
       cp "$work/results" "$out/run$i" ); then
    (. "$out/run$i"; printf '%4s %7ss %7ss %7ss %7ss %9s\n' "$i" "${T_ALERT:--}" "${T_NOTIFY:--}" "${T_BLOCK:--}" \
       "${ALERT_TO_NOTIFY:--}" "${SPAM_ACCEPTED:--}")
  else
    echo "run $i failed: $(tail -5 "$out/start$i.log")"
  fi
done
python3 - "$out" "$mode" <<'PY'
import glob, os, statistics, sys
out, mode = sys.argv[1:]
runs = []
for f in sorted(glob.glob(os.path.join(out, "run*"))):
    kv = dict(l.strip().split("=", 1) for l in open(f) if "=" in l)
    runs.append(kv)
def med(key):
    vals = [float(r[key]) for r in runs if r.get(key)]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)
rows = [("burst start → alert firing", "T_ALERT", None),
        ("burst start → Telegram message", "T_NOTIFY", None),
        ("alert → Telegram message", "ALERT_TO_NOTIFY", 5.0),
        ("burst start → block", "T_BLOCK", 45.0 if mode == "auto" else None),
        ("spam accepted before the block", "SPAM_ACCEPTED", 500.0)]
print(f"\nmedians over {len(runs)} completed runs ({mode} mode):")
ok = True
for name, key, target in rows:
    m, k = med(key)
    if m is None:
        print(f"  {name:34s} -"); ok = False; continue
    unit = "" if key == "SPAM_ACCEPTED" else " s"
    line = f"  {name:34s} {m:8.1f}{unit}"
    if target:
        line += f"   target ≤ {target:g}{unit}: ratio {m / target:.2f} {'ok' if m <= target else 'MISSED'}"
        ok &= m <= target
    print(line)
sys.exit(0 if ok and runs else 1)
PY
