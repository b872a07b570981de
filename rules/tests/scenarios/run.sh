#!/usr/bin/env bash
# The scenario suite (docs/rules.md "Scenarios"): generates the promtool tests
# (gen.py, deterministic) into a temporary directory and runs them.
#   rules/tests/scenarios/run.sh              run every scenario
#   rules/tests/scenarios/run.sh --measure    print each detection delay instead
#                                             (the table in docs/rules.md)
#   ONLY="newsletter" rules/tests/scenarios/run.sh    one scenario (substring)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/saslguard-scenarios.XXXXXX)
trap 'rm -rf "$work"' EXIT
args=()
[ "${1:-}" = --measure ] && args+=(--measure)
[ -n "${ONLY:-}" ] && args+=(--only "$ONLY")
python3 "$here/gen.py" --out "$work" "${args[@]}"
# One file per scenario, run side by side (each promtool is single-threaded;
# SCENARIO_JOBS defaults to the cores). A failed file leaves FAILED beside it.
cd "$work"
ls ./*.test.yml | xargs -P "${SCENARIO_JOBS:-$(nproc)}" -I{} \
  sh -c 'promtool test rules "$1" > "$1.out" 2>&1 || touch "$1.FAILED"' _ {}
status=0
if ls ./*.FAILED >/dev/null 2>&1; then status=1; fi
if [ "${1:-}" = --measure ]; then
  # Each delay query expected -1; promtool prints what it got: the delay in seconds.
  cat "$work"/*.out > "${MEASURE_OUT:-/dev/null}"
  cat "$work"/*.out | python3 "$here/gen.py" --parse-measure
  exit 0
fi
for f in ./*.test.yml; do
  if [ -e "$f.FAILED" ]; then echo "FAILED: $f"; else echo "ok: $f"; fi
  if [ -e "$f.FAILED" ]; then cat "$f.out"; fi
done
exit $status
