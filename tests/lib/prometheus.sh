# shellcheck shell=bash
# A private Prometheus for tests, benchmarks and the demo: Debian's `prometheus`
# on a free 127.0.0.1 port, with its own config, rules and TSDB in a work
# directory, stopped by the cleanup stack. It never touches a system Prometheus.
#
# Usage (source it, then):
#   prom_config_from_deploy OUT EXPORTER_ADDR [RECEIVER_ADDR [ALERTMANAGER_ADDR]]
#                                # deploy/prometheus.yml with its targets and rule path
#                                # rewritten for the test (intervals kept as shipped)
#   prom_start DIR CONFIG        # starts it; sets PROM_URL, writes DIR/env
#   prom_stop DIR
#   prom_query EXPR [TIME]       # instant query; prints the API's JSON (exits 1 unless success)
#   prom_query_value EXPR        # the first sample's value, or nothing
#   prom_wait_value TIMEOUT_S EXPR  # waits until EXPR returns at least one sample
#   prom_alerts [STATE]          # /api/v1/alerts as "alertname<TAB>state<TAB>labels-json" lines
#   prom_wait_targets_up TIMEOUT_S JOB   # waits until every target of JOB is up
# Functions after prom_start use PROM_URL (or set it yourself to use another).

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PROM_BIN=${PROM_BIN:-prometheus}

# prom_config_from_deploy OUT EXPORTER_ADDR [RECEIVER_ADDR [ALERTMANAGER_ADDR]]:
# the shipped deploy/prometheus.yml, changed mechanically and only where a test
# must differ: scrape targets (private ports), the rule file path (this
# checkout's rules/), the Alertmanager address, no self-scrape of :9090.
# An empty or missing RECEIVER_ADDR drops the receiver job; a missing
# ALERTMANAGER_ADDR drops the alerting block.
prom_config_from_deploy() {
  local out=$1 exporter=$2 receiver=${3:-} alertmanager=${4:-}
  python3 - "$SASLGUARD_SOURCE_DIR/deploy/prometheus.yml" "$out" "$exporter" "$receiver" \
    "$SASLGUARD_SOURCE_DIR/rules/saslguard.rules.yml" "$alertmanager" <<'PY'
import re, sys
src, out, exporter, receiver, rules, alertmanager = sys.argv[1:]
text = open(src).read()
text = text.replace("127.0.0.1:9754", exporter)
text = text.replace("/etc/prometheus/saslguard/saslguard.rules.yml", rules)
# Drop the alerting block and the self-scrape job (text blocks, not YAML parsing:
# python3 has no YAML module in the stdlib; the shipped file's layout is fixed).
if alertmanager:
    text = text.replace("127.0.0.1:9093", alertmanager)
else:
    text = re.sub(r"\nalerting:\n(?:  .*\n|\n)*?(?=\S)", "\n", text)
text = re.sub(r"\n  - job_name: prometheus\n(?:    .*\n|      .*\n)*", "\n", text)
if receiver:
    text = text.replace("127.0.0.1:9755", receiver)
else:
    text = re.sub(r"\n(?:  #.*\n)*  - job_name: saslguard-receiver\n(?:    .*\n)*", "\n", text)
assert exporter in text and rules in text, "deploy/prometheus.yml changed shape"
open(out, "w").write(text)
PY
}

# prom_start DIR CONFIG: Prometheus with CONFIG, TSDB in DIR/data, log in DIR/prometheus.log.
prom_start() {
  local dir=$1 config=$2 port
  mkdir -p "$dir/data"
  port=$(free_port)
  "$PROM_BIN" --config.file="$config" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --log.level=warn \
    > "$dir/prometheus.log" 2>&1 &
  echo $! > "$dir/prometheus.pid"
  cleanup_push "prom_stop '$dir'"
  PROM_URL="http://127.0.0.1:$port"
  echo "PROM_URL=$PROM_URL" > "$dir/env"
  if ! wait_http "$PROM_URL/-/ready" 30; then
    cat "$dir/prometheus.log" >&2
    return 1
  fi
}

prom_stop() {
  local dir=$1 pid
  [ -f "$dir/prometheus.pid" ] || return 0
  pid=$(cat "$dir/prometheus.pid")
  kill "$pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/prometheus.pid"
}

# prom_query EXPR [TIME]: the raw JSON of an instant query; fails unless status=success.
prom_query() {
  local expr=$1 time=${2:-} out
  out=$(curl -sS --max-time 10 "$PROM_URL/api/v1/query" --data-urlencode "query=$expr" \
        ${time:+--data-urlencode "time=$time"}) || return 1
  printf '%s\n' "$out"
  [ "$(printf '%s' "$out" | jq -r .status)" = success ]
}

# prom_query_value EXPR: value of the first sample (empty when there is none).
prom_query_value() {
  prom_query "$1" | jq -r '.data.result[0].value[1] // empty'
}

# prom_wait_value TIMEOUT_S EXPR: until EXPR has at least one sample.
prom_wait_value() {
  local t=$1 expr=$2
  wait_for "$t" bash -c "curl -fsS '$PROM_URL/api/v1/query' --data-urlencode 'query=$expr' | jq -e '.data.result | length > 0'"
}

# prom_alerts [STATE]: one line per alert: NAME<TAB>STATE<TAB>{labels as JSON}.
prom_alerts() {
  local state=${1:-}
  curl -fsS --max-time 10 "$PROM_URL/api/v1/alerts" |
    jq -r --arg s "$state" '.data.alerts[] | select($s == "" or .state == $s)
                            | [.labels.alertname, .state, (.labels | tojson)] | @tsv'
}

# prom_wait_targets_up TIMEOUT_S JOB: every target of JOB reports health "up".
prom_wait_targets_up() {
  local t=$1 job=$2
  wait_for "$t" bash -c "curl -fsS '$PROM_URL/api/v1/targets?state=active' |
    jq -e --arg j '$job' '[.data.activeTargets[] | select(.labels.job == \$j)] | length > 0 and all(.health == \"up\")'"
}

# prom_config_fleet OUT ALERTMANAGER_ADDR INTERVAL NAME=EXPORTER_ADDR...: the
# shipped deploy/prometheus.yml for several mail hosts: one exporter target per
# host, labelled instance=NAME (as the shipped file suggests per host, and as
# docs/fleet.md asks: the alert names the host), no receiver job, scrape and
# rule evaluation every INTERVAL (tests: a few seconds instead of the shipped
# 10 s, so that an alert fires sooner; the rules are the shipped ones).
prom_config_fleet() {
  local out=$1 alertmanager=$2 interval=$3
  shift 3
  local first=${1#*=}
  prom_config_from_deploy "$out" "$first" "" "$alertmanager"
  python3 - "$out" "$interval" "$@" <<'PY'
import re, sys
out, interval, targets = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(out).read()
first = targets[0].split("=", 1)[1]
line = '      - targets: ["%s"]\n' % first
assert line in text, "deploy/prometheus.yml changed shape"
block = "".join('      - targets: ["%s"]\n        labels: {instance: %s}\n' % (addr, name)
                for name, addr in (t.split("=", 1) for t in targets))
text = text.replace(line, block)
text = re.sub(r"(\n  scrape_interval: )\S+", r"\g<1>" + interval, text)
text = re.sub(r"(\n    scrape_interval: )\S+", r"\g<1>" + interval, text)
text = re.sub(r"(\n  evaluation_interval: )\S+", r"\g<1>" + interval, text)
text = re.sub(r"(\n  scrape_timeout: )\S+", r"\g<1>" + interval, text)
open(out, "w").write(text)
PY
}
