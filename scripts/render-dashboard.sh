#!/usr/bin/env bash
# Renders docs/img/dashboard.png: the Grafana dashboard's queries drawn with gnuplot
# (Grafana is not in Debian) over a compromised-account scenario run on real
# programs (tests/grafana/scenario.sh: private Postfix, saslguard-exporter,
# saslguard-receiver when built, Prometheus with the shipped config and rules).
#
#   scripts/render-dashboard.sh [OUT.png]                 run the scenario, then render
#   scripts/render-dashboard.sh --prometheus URL [OUT.png] render from an existing Prometheus
#                                                        (last 15 minutes)
# Needs a build (SASLGUARD_BUILD_DIR, default build/) for the scenario. Takes ~6 minutes.
set -eo pipefail  # not -u: tests/lib/postfix.sh expands unset names in pf_create
root=$(cd "$(dirname "$0")/.." && pwd)
export SASLGUARD_SOURCE_DIR=$root
if [ "${1:-}" = "--prometheus" ]; then
  exec python3 "$root/scripts/render-dashboard.py" --prometheus "$2" --out "${3:-$root/docs/img/dashboard.png}"
fi
out=${1:-$root/docs/img/dashboard.png}
# shellcheck source=../tests/lib/prometheus.sh
. "$root/tests/lib/prometheus.sh"
# shellcheck source=../tests/lib/postfix.sh
. "$root/tests/lib/postfix.sh"
# shellcheck source=../tests/grafana/scenario.sh
. "$root/tests/grafana/scenario.sh"

warmup=${RENDER_WARMUP_S:-150}
after=${RENDER_AFTER_S:-150}
work=$(make_workdir render)
cleanup_push "rm -rf '$work'"
start=$(date +%s)
echo "render-dashboard: scenario running (warm-up ${warmup}s, then the burst for ${after}s)"
scenario_start "$work" "$warmup" $((warmup + after + 60))
echo "render-dashboard: SaslUserSendingSurge fired; recording ${after}s more"
sleep "$after"
python3 "$root/scripts/render-dashboard.py" --prometheus "$PROM_URL" --start "$start" --end "$(date +%s)" \
  --step 5 --out "$out"
