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
  cat "$work"/*.out | python3 -c '
import re, sys
text = sys.stdin.read()
for m in re.finditer(r"got: (\{[^}]*\}) (\S+)", text):
    labels, v = m.group(1), float(m.group(2))
    who = re.search(r"(?:sasl_username|client_ip)=\"([^\"]+)\"", labels)
    name = re.search(r"alertname=\"([^\"]+)\"", labels).group(1)
    mit = re.search(r"mitigation=\"([^\"]+)\"", labels).group(1)
    print(f"{name:32s} {who.group(1) if who else \"-\":28s} {mit:8s} {v:6.0f} s after the event starts")
'
  exit 0
fi
cat "$work"/*.out
exit $status
