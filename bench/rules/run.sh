#!/usr/bin/env bash
# Rules benchmark (issue #14), one command:
#   bench/rules/run.sh [USERS]              (default 10000; WARMUP_S=420 before measuring)
# A real Prometheus with the shipped rules (rules/saslguard.rules.yml) and the
# shipped intervals (exporter scraped every 10s, rules every 10s / 1m) scrapes
# the real saslguard-exporter, which tails a log where feed.py writes USERS
# accounts' submissions live (all of them tracked: the --max-users cap). The
# history a Prometheus would hold after 8 days — the raw counter for the last
# hour and the hourly series of saslguard.user_history for 8 days — is
# backfilled first with `promtool tsdb create-blocks-from openmetrics`
# (history.py), so every [1h], [1d] and [8d] window reads a full history.
#
# In the same command two baseline Prometheus servers scrape the same exporter
# with the same backfilled history: "old", the rule set before issue #14 (1m
# surge against a 1h baseline, no history; BASELINE_REV), and "prev", the rules
# of issue #14 before they read their hour from per-minute increases
# (PREV_REV; PREV_REV= skips it). The ratios compare the shipped rules with each.
#
# Reported per rule group: prometheus_rule_group_last_duration_seconds (max and
# median over the measuring window), and Prometheus's resident memory and head
# series. Goal: every group <= 1 s per evaluation at 10,000 users.
# Only change to the shipped rules: saslguard.user_history runs every 2m instead
# of 1h, so that it is evaluated (and measured) within the run; each evaluation
# reads the same samples whatever the interval.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/lib/prometheus.sh"
USERS=${1:-10000}
WARMUP_S=${WARMUP_S:-420}
MEASURE_S=${MEASURE_S:-180}
exporter=${EXPORTER:-$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter}
[ -x "$exporter" ] || { echo "build saslguard-exporter first ($exporter)" >&2; exit 2; }
work=$(make_workdir bench-rules)
cleanup_push "rm -rf '$work'"
OUT=${OUT:-/tmp/saslguard-bench-rules.txt}
: > "$OUT"
say() { echo "$*" | tee -a "$OUT"; }

exp_port=$(free_port)
now=$(date +%s)
say "rules benchmark: $USERS users; hourly history backfilled up to $(date -u -d @"$now" +%FT%TZ)"
mkdir -p "$work/new/data" "$work/old/data"
PREV_REV=${PREV_REV-993f15a}
servers="new old"
[ -z "$PREV_REV" ] || { servers="new old prev"; mkdir -p "$work/prev"; }
# The rule files, taken when the command starts: shipped (history every 2m),
# and the previous sets from git.
sed 's/^    interval: 1h$/    interval: 2m/' "$SASLGUARD_SOURCE_DIR/rules/saslguard.rules.yml" > "$work/new/rules.yml"
grep -q 'interval: 2m' "$work/new/rules.yml" || fail "rules file changed shape (no 'interval: 1h' group)"
git -C "$SASLGUARD_SOURCE_DIR" show "${BASELINE_REV:-a34ea08}:rules/saslguard.rules.yml" > "$work/old/rules.yml"
if [ -n "$PREV_REV" ]; then
  git -C "$SASLGUARD_SOURCE_DIR" show "$PREV_REV:rules/saslguard.rules.yml" |
    sed 's/^    interval: 1h$/    interval: 2m/' > "$work/prev/rules.yml"
fi
# backfill PART END: history.py writes one file per 2h window; promtool reads each.
backfill() {
  python3 "$here/history.py" --part "$1" --users "$USERS" --instance "127.0.0.1:$exp_port" --end "$2" \
    --out "$work/history-$1.om" > "$work/history-$1.files"
  say "history ($1): $(cat "$work"/history-"$1".om.* | wc -c | awk '{printf "%.0f MB", $1 / 1048576}') of OpenMetrics in $(wc -l < "$work/history-$1.files") 2h windows"
  while read -r f; do
    promtool tsdb create-blocks-from openmetrics --quiet "$f" "$work/new/data" >> "$work/backfill.log" 2>&1 ||
      { cat "$work/backfill.log" >&2; fail "backfill of $f failed"; }
    rm -f "$f"
  done < "$work/history-$1.files"
}
# The 8 days of hourly series first (slow), then the raw hour up to the moment
# Prometheus starts, so that every [1h] window reads a full hour.
backfill hourly "$now"
backfill raw "$(date +%s)"
cp -a "$work/new/data/." "$work/old/data/"
[ -z "$PREV_REV" ] || cp -a "$work/new/data" "$work/prev/data"

log=$work/mail.log
: > "$log"
"$exporter" --web.listen-address="127.0.0.1:$exp_port" --log.path="$log" --showq.path= \
  --max-users="$USERS" > "$work/exporter.log" 2>&1 &
cleanup_push "kill $! 2>/dev/null"
wait_http "http://127.0.0.1:$exp_port/metrics" 20 || fail "exporter did not start"
python3 "$here/feed.py" --users "$USERS" --log "$log" &
cleanup_push "kill $! 2>/dev/null"

start_prom() { # NAME: Prometheus with NAME/rules.yml, scraping the exporter and itself
  local name=$1 port
  port=$(free_port)
  cat > "$work/$name/prometheus.yml" <<YML
global: {scrape_interval: 15s, evaluation_interval: 10s}
rule_files: [$work/$name/rules.yml]
scrape_configs:
  - job_name: saslguard-exporter
    scrape_interval: 10s
    scrape_timeout: 10s
    static_configs: [{targets: ["127.0.0.1:$exp_port"]}]
  - job_name: prometheus
    static_configs: [{targets: ["127.0.0.1:$port"]}]
YML
  grep -q 'scrape_interval: 10s' "$SASLGUARD_SOURCE_DIR/deploy/prometheus.yml" || fail "deploy/prometheus.yml changed its intervals"
  prometheus --config.file="$work/$name/prometheus.yml" --storage.tsdb.path="$work/$name/data" \
    --storage.tsdb.retention.time=30d --web.listen-address="127.0.0.1:$port" --log.level=warn \
    > "$work/$name/prometheus.log" 2>&1 &
  cleanup_push "kill $! 2>/dev/null; wait $! 2>/dev/null"
  wait_http "http://127.0.0.1:$port/-/ready" 120 || { cat "$work/$name/prometheus.log" >&2; fail "$name Prometheus did not start"; }
  eval "URL_$name=http://127.0.0.1:$port"
}
for s in $servers; do start_prom "$s"; done
# Backfilled history arrives as 2h blocks (97 of them); Prometheus merges them
# into the larger blocks an 8-day-old Prometheus has, in its first compactions.
# Measure only once that is done.
for _ in $(seq 1 120); do
  blocks=$(curl -fsS "$URL_new/api/v1/query" --data-urlencode 'query=prometheus_tsdb_blocks_loaded' | jq -r '.data.result[0].value[1] // 999')
  [ "${blocks%.*}" -le 12 ] && break
  sleep 10
done
say "TSDB blocks after compaction: $blocks"
say "warming up ${WARMUP_S}s (every account submits in the first minute), then measuring ${MEASURE_S}s"
sleep "$WARMUP_S"
tracked=$(curl -fsS "http://127.0.0.1:$exp_port/metrics" | awk '/^saslguard_exporter_tracked_users /{print $2}')
say "exporter tracks $tracked users"
sleep "$MEASURE_S"

q() { # URL QUERY -> "label value" lines
  curl -fsS "$1/api/v1/query" --data-urlencode "query=$2" |
    jq -r '.data.result[] | "\(.metric.rule_group // "-" | sub(".*;"; "")) \(.value[1])"'
}
report() { # NAME
  local url=$1 label=$2 w=${MEASURE_S}s
  say ""
  say "$label: rule group evaluation (prometheus_rule_group_last_duration_seconds over the last $w)"
  say "$(printf '  %-28s %10s %10s %8s' group max median interval)"
  while read -r group max; do
    med=$(q "$url" "quantile_over_time(0.5, prometheus_rule_group_last_duration_seconds{rule_group=~\".*;$group\"}[$w])" | awk '{print $2}')
    ivl=$(q "$url" "prometheus_rule_group_interval_seconds{rule_group=~\".*;$group\"}" | awk '{print $2}')
    say "$(printf '  %-28s %9.3fs %9.3fs %7ss' "$group" "$max" "$med" "$ivl")"
    echo "$label $group $max" >> "$work/groups"
  done < <(q "$url" "max_over_time(prometheus_rule_group_last_duration_seconds[$w])" | sort)
  local rss heap series
  rss=$(q "$url" 'max_over_time(process_resident_memory_bytes{job="prometheus"}['"$w"'])' | awk '{printf "%.0f", $2 / 1048576}')
  heap=$(q "$url" 'go_memstats_heap_inuse_bytes{job="prometheus"}' | awk '{printf "%.0f", $2 / 1048576}')
  series=$(q "$url" 'prometheus_tsdb_head_series' | awk '{print $2}')
  say "  Prometheus: resident memory max ${rss} MB, heap in use ${heap} MB, head series ${series}"
  eval "RSS_$label=$rss; SERIES_$label=$series"
}
for s in $servers; do eval "report \"\$URL_$s\" $s"; done
worst() { awk -v s="$1" '$1 == s {if ($3 > m) m = $3} END {print m + 0}' "$work/groups"; }
sum_groups() { awk -v s="$1" '$1 == s {t += $3} END {print t + 0}' "$work/groups"; }
worst_new=$(worst new)
say ""
for s in ${servers#new }; do
  w=$(worst "$s")
  eval "rss=\$RSS_$s; series=\$SERIES_$s"
  say "per group new/$s: $(awk -v s="$s" '$1 == "new" {n[$2] = $3} $1 == s {o[$2] = $3} END {for (g in n) if (g in o && o[g] > 0) printf " %s %.2fx", g, n[g] / o[g]}' "$work/groups" | sed 's/saslguard\.//g')"
  say "ratios new/$s: slowest group $(python3 -c "print(f'{$worst_new / max($w, 1e-6):.2f}')")x (${worst_new}s vs ${w}s), all groups $(python3 -c "print(f'{$(sum_groups new) / max($(sum_groups "$s"), 1e-6):.2f}')")x, memory $(python3 -c "print(f'{$RSS_new / max($rss, 1):.2f}')")x, head series $(python3 -c "print(f'{$SERIES_new / max($series, 1):.2f}')")x"
done
python3 -c "import sys; sys.exit(0 if $worst_new <= 1.0 else 1)" && say "goal met: every group <= 1 s per evaluation at $USERS users" ||
  say "GOAL MISSED: a group took ${worst_new}s (> 1 s) at $USERS users"
