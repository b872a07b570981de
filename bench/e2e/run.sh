#!/usr/bin/env bash
# Benchmark: the whole chain (tests/lib/stack.sh, the same scenario as the demo
# and tests/e2e/full_chain_test.sh) run N times; prints each run and the medians
# of: burst start → alert firing, → Telegram message, → block; alert → webhook,
# alert → message; spam messages accepted before the block. Every time is a
# daemon's own timestamp (Prometheus's activeAt, the receiver's database, the
# emulator's receive time). The baseline is the target set for the shipped
# configs (alert → message ≤ 5 s, burst → block ≤ 45 s in auto mode, ≤ 500 spam
# accepted at 10 msg/s): each median is shown as a ratio to it.
#
#   bench/e2e/run.sh [N] [auto|confirm]        (defaults 3, auto)
# Needs root, the dependencies (scripts/install-deps.sh) and built binaries
# (SASLGUARD_BUILD_DIR, default build/). About 80 s per run.
# bench/soak/run.sh runs the same figures with a CPU hog on every core.
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-3}
mode=${2:-auto}
# shellcheck source=lib.sh
. "$here/lib.sh"

out=$(make_workdir e2e-bench-results)
cleanup_push "rm -rf '$out'"
echo "e2e benchmark: $n runs, $mode mode, burst ${STACK_BURST_RATE:-10} msg/s from ${STACK_BURST_IPS:-40} addresses"
e2e_header
for i in $(seq 1 "$n"); do e2e_run "$out" "run$i" "$mode" || true; done

# shellcheck disable=SC1090
. <(e2e_medians "$out" 'run[0-9]*')
echo
echo "medians over $n runs ($mode mode):"
ok=1
row() { # KEY TITLE UNIT TARGET
  local v=${!1} k=${1}_N t=$4
  if [ -z "$v" ]; then printf '  %-44s -\n' "$2"; ok=0; return; fi
  if [ -n "$t" ]; then
    printf '  %-44s %8.1f%s   target ≤ %s%s: ratio %s\n' "$2" "$v" "$3" "$t" "$3" \
      "$(awk -v a="$v" -v b="$t" 'BEGIN { printf "%.2f %s", a / b, (a <= b ? "ok" : "MISSED") }')"
    awk -v a="$v" -v b="$t" 'BEGIN { exit !(a <= b) }' || ok=0
  else
    printf '  %-44s %8.1f%s   (%s runs)\n' "$2" "$v" "$3" "${!k}"
  fi
}
row T_ALERT "burst start → alert firing" " s" ""
row ALERT_TO_WEBHOOK "alert → webhook stored" " s" ""
row ALERT_TO_NOTIFY "alert → Telegram message" " s" 5
row T_NOTIFY "burst start → Telegram message" " s" ""
if [ "$mode" = auto ]; then row T_BLOCK "burst start → block" " s" 45; else row T_BLOCK "burst start → block" " s" ""; fi
row SPAM_ACCEPTED "spam accepted before the block" "" 500
[ "$ok" = 1 ]
