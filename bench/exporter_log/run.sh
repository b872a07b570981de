#!/usr/bin/env bash
# Exporter log benchmark, one command:
#   bench/exporter_log/run.sh [LINES]        (default 1000000; RSS also on 5x LINES)
# Generates realistic Postfix logs (gen.py, classic and ISO 8601 timestamps) with
# their ground truth, runs `saslguard-exporter --oneshot` pinned to one core,
# checks every series against the ground truth (check.py), and reports lines/s
# and peak RSS. In the same run it measures Debian's prometheus-postfix-exporter
# (0.3, tailing the file: time until its counters stop growing) and mtail
# (--one_shot with Debian's postfix.mtail) on the same file, for the ratios.
# Figures go to stdout and to $OUT (default /tmp/saslguard-bench-exporter-log/results.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/lib/common.sh"
LINES=${1:-1000000}
exporter=${EXPORTER:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}
[ -x "$exporter" ] || { echo "build saslguard-exporter first ($exporter)" >&2; exit 2; }
work=${WORK:-/tmp/saslguard-bench-exporter-log}
mkdir -p "$work"
OUT=${OUT:-$work/results.txt}
: > "$OUT"
say() { echo "$*" | tee -a "$OUT"; }

# run_oneshot LOG TRUTH LABEL: best wall time of 3 runs on core 0; checks the output.
run_oneshot() {
  local log=$1 truth=$2 label=$3 lines best=999999 rss=0 i
  lines=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['lines'])" "$truth")
  for i in 1 2 3; do
    /usr/bin/time -v -o "$work/time.txt" taskset -c 0 "$exporter" --oneshot "$log" > "$work/out.prom"
    local wall r
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(j=1;j<=n;j++) s=s*60+a[j]; print s}' "$work/time.txt")
    r=$(awk -F': ' '/Maximum resident/{print $2}' "$work/time.txt")
    best=$(python3 -c "print(min($best, $wall))"); [ "$r" -gt "$rss" ] && rss=$r
  done
  python3 "$here/check.py" "$truth" "$work/out.prom" | tee -a "$OUT"
  promtool check metrics < "$work/out.prom" || { say "promtool rejected the output"; exit 1; }
  local lps
  lps=$(python3 -c "print(int($lines / max($best, 1e-3)))")
  say "saslguard-exporter $label: $lines lines in ${best}s = $lps lines/s, peak RSS $((rss / 1024)) MB"
  eval "LPS_$label=$lps"
}

for fmt in classic iso; do
  python3 "$here/gen.py" --lines "$LINES" --format $fmt --out "$work/$fmt.log" --truth "$work/$fmt.json" --seed 7
  run_oneshot "$work/$fmt.log" "$work/$fmt.json" $fmt
done
python3 "$here/gen.py" --lines $((LINES * 5)) --format classic --out "$work/big.log" --truth "$work/big.json" --seed 8
run_oneshot "$work/big.log" "$work/big.json" big
rm -f "$work/big.log"

# prometheus-postfix-exporter 0.3: it only tails, so start it on an empty file,
# append the classic log at once and time until its counters stop growing.
if command -v prometheus-postfix-exporter >/dev/null; then
  port=$(free_port)
  : > "$work/pfe.log"
  taskset -c 0 prometheus-postfix-exporter --postfix.logfile_path="$work/pfe.log" \
    --web.listen-address="127.0.0.1:$port" --postfix.showq_path="$work/no-showq" > "$work/pfe.out" 2>&1 &
  pfe=$!
  cleanup_push "kill $pfe 2>/dev/null"
  wait_http "http://127.0.0.1:$port/metrics" 30
  sum_counters() { curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^postfix_[a-z_]*_total/ {s += $NF} END {printf "%d\n", s}'; }
  t0=$(date +%s.%N)
  cat "$work/classic.log" >> "$work/pfe.log"
  last=-1; t_last=$t0; still=0
  while [ $still -lt 15 ]; do  # 15 x 0.2s without growth = done
    sleep 0.2
    v=$(sum_counters)
    if [ "$v" != "$last" ]; then last=$v; t_last=$(date +%s.%N); still=0; else still=$((still + 1)); fi
    python3 -c "import sys; sys.exit(0 if float('$(date +%s.%N)') - $t0 < 600 else 1)" || break
  done
  pfe_s=$(python3 -c "print(round($t_last - $t0, 2))")
  lines=$(wc -l < "$work/classic.log")
  pfe_lps=$(python3 -c "print(int($lines / max($pfe_s, 0.2)))")
  connects=$(curl -fsS "http://127.0.0.1:$port/metrics" | awk '$1=="postfix_smtpd_connects_total"{print $2}')
  say "postfix_exporter 0.3 classic: $lines lines in ~${pfe_s}s = ~$pfe_lps lines/s (its connects_total: ${connects:-?}); saslguard-exporter is $(python3 -c "print(round($LPS_classic / $pfe_lps, 1))")x faster"
  kill $pfe 2>/dev/null || true
fi

# mtail with Debian's postfix.mtail, one-shot over the same file.
prog=$(dpkg -L mtail 2>/dev/null | grep '/postfix.mtail$' | head -1 || true)
if [ -n "$prog" ]; then
  mkdir -p "$work/mtail-progs"; cp "$prog" "$work/mtail-progs/"
  s=$(date +%s.%N)
  taskset -c 0 mtail --one_shot --one_shot_format prometheus --progs "$work/mtail-progs" --logs "$work/classic.log" \
    > "$work/mtail.out" 2> "$work/mtail.err" || say "mtail exited non-zero (see $work/mtail.err)"
  mt_s=$(python3 -c "print(round($(date +%s.%N) - $s, 2))")
  lines=$(wc -l < "$work/classic.log")
  mt_lps=$(python3 -c "print(int($lines / max($mt_s, 0.01)))")
  say "mtail (postfix.mtail) classic: $lines lines in ${mt_s}s = $mt_lps lines/s; saslguard-exporter is $(python3 -c "print(round($LPS_classic / $mt_lps, 1))")x faster"
fi
say "targets: >= 1500000 lines/s (classic and iso), >= 10x postfix_exporter, peak RSS <= 32 MB on $((LINES * 5)) lines"
