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
status=0
for f in "$work"/*.test.yml; do
  if ! (cd "$work" && promtool test rules "$(basename "$f")") > "$f.out" 2>&1; then status=1; fi
done
if [ "${1:-}" = --measure ]; then
  # Each delay query expected -1; promtool prints what it got: the delay in seconds.
  cat "$work"/*.out > "${MEASURE_OUT:-/dev/null}"
  cat "$work"/*.out | python3 "$here/gen.py" --parse-measure
  exit 0
fi
cat "$work"/*.out
exit $status
