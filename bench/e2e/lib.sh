# shellcheck shell=bash
# Shared by bench/e2e/run.sh and bench/soak/run.sh: one end-to-end run of the
# tests/lib/stack.sh scenario, and the figures of a set of runs.
#
#   e2e_run OUT NAME MODE     one run in its own subshell (own daemons, own cleanup);
#                             its results go to OUT/NAME (tests/lib/stack.sh's
#                             WORK/results, plus CPU_IDLE_PCT: the share of CPU time
#                             the whole machine left idle during the run); prints one
#                             table row. Fails (status 1) when the chain did not start.
#   e2e_header                the table header for e2e_run's rows
#   e2e_medians OUT GLOB      "KEY=median" lines over OUT/GLOB for the bench figures
# Every figure is a daemon's own timestamp (tests/lib/stack.sh), so a loaded
# machine slows the chain, not the measurement.

_bench_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../tests/lib/stack.sh
. "$_bench_lib/../../tests/lib/stack.sh"

# The figures each run reports, in table order: KEY|column title|unit.
E2E_FIGURES=(
  "T_ALERT|burst → alert firing (Prometheus activeAt)| s"
  "ALERT_TO_WEBHOOK|alert → webhook stored by the receiver| s"
  "ALERT_TO_NOTIFY|alert → Telegram message (emulator)| s"
  "T_NOTIFY|burst → Telegram message| s"
  "T_BLOCK|burst → login blocked (receiver's record)| s"
  "SPAM_ACCEPTED|spam accepted before the block|"
  "BURST_RATE|spam sent per second (the burst's own rate)|"
  "CPU_IDLE_PCT|machine CPU idle during the run| %"
)

# _cpu_jiffies: "<idle> <total>" from /proc/stat's cpu line (idle + iowait as idle).
_cpu_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print $5 + $6, t; exit }' /proc/stat; }

e2e_header() {
  printf '%-14s %8s %8s %8s %8s %8s %9s %8s\n' run alert "al→hook" "al→msg" notify block accepted "cpu idle"
}

e2e_run() {
  local out=$1 name=$2 mode=$3 i0 t0 i1 t1
  read -r i0 t0 < <(_cpu_jiffies)
  # One subshell per run: its own cleanup stack stops that run's daemons.
  if ! ( _cleanups=()
         work=$(make_workdir e2e-bench)
         cleanup_push "rm -rf '$work'"
         STACK_QUIET=1 stack_start "$work" "$mode" > "$out/start-$name.log" 2>&1
         STACK_QUIET=1 stack_scenario "$work"
         cp "$work/results" "$out/$name" ); then
    echo "$name: the chain did not start: $(tail -3 "$out/start-$name.log")"
    return 1
  fi
  read -r i1 t1 < <(_cpu_jiffies)
  # shellcheck disable=SC1090
  (. "$out/$name"
   rate=$(awk -v n="$BURST_SENT" -v s="$BURST_SPAN_S" 'BEGIN { if (s > 0) printf "%.1f", (n - 1) / s }')
   idle=$(awk -v a=$((i1 - i0)) -v b=$((t1 - t0)) 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b }')
   printf 'BURST_RATE=%s\nCPU_IDLE_PCT=%s\n' "$rate" "$idle" >> "$out/$name"
   printf '%-14s %7ss %7ss %7ss %7ss %7ss %9s %7s%%\n' "$name" "${T_ALERT:--}" "${ALERT_TO_WEBHOOK:--}" \
     "${ALERT_TO_NOTIFY:--}" "${T_NOTIFY:--}" "${T_BLOCK:--}" "${SPAM_ACCEPTED:--}" "${idle:--}")
}

# e2e_medians OUT GLOB: KEY=median (empty when no run has the figure) and
# KEY_N=number of runs that have it, for every E2E_FIGURES key.
e2e_medians() {
  local out=$1 glob=$2 f key
  for f in "${E2E_FIGURES[@]}"; do
    key=${f%%|*}
    # shellcheck disable=SC2086 # GLOB is a pattern on purpose
    grep -h "^$key=." $out/$glob 2>/dev/null | cut -d= -f2 | sort -g |
      awk -v k="$key" '{ v[NR] = $1 } END { m = ""; if (NR % 2) m = v[(NR + 1) / 2]; else if (NR) m = (v[NR / 2] + v[NR / 2 + 1]) / 2
                                            printf "%s=%s\n%s_N=%d\n", k, m, k, NR }'
  done
}
