#!/usr/bin/env bash
# Soak benchmark: the end-to-end chain (tests/lib/stack.sh, the scenario of
# bench/e2e/run.sh and tests/e2e/full_chain_test.sh) while a CPU hog holds every
# core, against unloaded runs in the same command. Runs alternate (unloaded,
# loaded, unloaded, …) so a drift in the machine's background load hits both.
# The hog is Debian's stress-ng (`stress-ng --cpu $(nproc)`, normal priority,
# started before the chain and stopped after it, so it competes with every
# daemon and with Postfix).
#
# Reports, for both sets, the medians of bench/e2e's figures — burst → alert,
# alert → webhook, alert → Telegram, burst → block, spam accepted — each a
# daemon's own timestamp, the loaded/unloaded ratio, and how much CPU the
# machine left idle (≈0 % proves the hog held the cores). Exits non-zero when a
# loaded run misses the end-to-end test's limits (alert → Telegram ≤
# E2E_MAX_NOTIFY_S, default 10 s; burst → block ≤ E2E_MAX_BLOCK_S, default 60 s,
# auto mode) or does not complete: the suite must pass on a loaded 2-core machine.
#
#   bench/soak/run.sh [N] [auto|confirm]     (defaults 2, auto: 2 unloaded + 2 loaded)
# Needs root, scripts/install-deps.sh and built binaries (SASLGUARD_BUILD_DIR).
# About 3 minutes per pair of runs.
set -eo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-2}
mode=${2:-auto}
# shellcheck source=../e2e/lib.sh
. "$here/../e2e/lib.sh"
command -v stress-ng > /dev/null || fail "stress-ng is missing: run scripts/install-deps.sh"

cpus=$(nproc)
out=$(make_workdir soak-bench-results)
cleanup_push "rm -rf '$out'"
hog_stop() {
  [ -n "${hog:-}" ] || return 0
  kill "$hog" 2>/dev/null || true
  wait "$hog" 2>/dev/null || true
  hog=""
}
cleanup_push hog_stop

echo "soak benchmark: $n unloaded and $n loaded runs (stress-ng --cpu $cpus), $mode mode,"
echo "burst ${STACK_BURST_RATE:-10} msg/s from ${STACK_BURST_IPS:-40} addresses"
e2e_header
for i in $(seq 1 "$n"); do
  e2e_run "$out" "unloaded$i" "$mode" || true
  stress-ng --cpu "$cpus" --timeout 1800s --quiet &
  hog=$!
  sleep 2  # let it take the cores before the chain starts
  e2e_run "$out" "loaded$i" "$mode" || true
  hog_stop
done

# shellcheck disable=SC1090
. <(e2e_medians "$out" 'unloaded[0-9]*' | sed 's/^/U_/')
# shellcheck disable=SC1090
. <(e2e_medians "$out" 'loaded[0-9]*' | sed 's/^/L_/')
echo
echo "medians ($mode mode)                               unloaded      loaded   loaded/unloaded"
for f in "${E2E_FIGURES[@]}"; do
  IFS='|' read -r key title unit <<< "$f"
  u=U_$key l=L_$key
  awk -v t="$title" -v u="${!u}" -v l="${!l}" -v unit="$unit" 'function f(x) { return x == "" ? "-" : sprintf("%.1f", x) }
    BEGIN { printf "  %-44s %9s%-2s %9s%-2s %s\n", t, f(u), unit, f(l), unit,
            (u != "" && l != "" && u + 0 != 0) ? sprintf("%.2f", l / u) : "-" }'
done

# The loaded runs against the end-to-end test's limits, run by run.
ok=1
for f in "$out"/loaded[0-9]*; do
  [ -f "$f" ] || continue
  # shellcheck disable=SC1090
  (. "$f"
   awk -v a="$ALERT_TO_NOTIFY" -v b="${E2E_MAX_NOTIFY_S:-10}" 'BEGIN { exit !(a != "" && a + 0 <= b) }' ||
     { echo "$(basename "$f"): alert → Telegram ${ALERT_TO_NOTIFY:-never} s > ${E2E_MAX_NOTIFY_S:-10} s"; exit 1; }
   [ "$MODE" != auto ] || awk -v a="$T_BLOCK" -v b="${E2E_MAX_BLOCK_S:-60}" 'BEGIN { exit !(a != "" && a + 0 <= b) }' ||
     { echo "$(basename "$f"): burst → block ${T_BLOCK:-never} s > ${E2E_MAX_BLOCK_S:-60} s"; exit 1; }) || ok=0
done
completed=$(find "$out" -maxdepth 1 -name "loaded[0-9]*" | wc -l)
[ "$completed" = "$n" ] || { echo "only $completed of $n loaded runs completed"; ok=0; }
if [ "$ok" = 1 ]; then echo "loaded runs within the end-to-end test's limits"; else exit 1; fi
