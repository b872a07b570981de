#!/usr/bin/env bash
# Golden test of `saslguard-exporter --oneshot`: the real Postfix capture must
# give exactly the committed exposition (tests/fixtures/postfix-logs/*.golden.prom),
# and every fixture's output must pass `promtool check metrics` (the adapted
# variants hold invalid UTF-8 and binary garbage).
# Series order inside a family is not part of the contract: both sides are sorted.
# The last-line timestamp is left out: an RFC 3164 line's year depends on today.
# Regenerate after an intended change:  UPDATE_GOLDEN=1 bash tests/exporter/oneshot_golden_test.sh
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
exporter=$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter
fixtures=$SASLGUARD_SOURCE_DIR/tests/fixtures/postfix-logs
work=$(make_workdir golden)
cleanup_push "rm -rf '$work'"

normalize() { grep -v '^saslguard_exporter_last_log_line_timestamp_seconds ' | LC_ALL=C sort; }

for name in real-postfix-3.7 adapted-variants; do
  "$exporter" --oneshot "$fixtures/$name.log" > "$work/$name.prom"
  promtool check metrics < "$work/$name.prom" || fail "$name: promtool check metrics rejected the output"
  ts=$(awk '/^saslguard_exporter_last_log_line_timestamp_seconds /{print $2}' "$work/$name.prom")
  [ "${ts%%.*}" -gt 1000000000 ] || fail "$name: last line timestamp missing ($ts)"
done

golden=$fixtures/real-postfix-3.7.golden.prom
if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
  normalize < "$work/real-postfix-3.7.prom" > "$golden"
  echo "updated $golden"
fi
diff -u <(LC_ALL=C sort "$golden") <(normalize < "$work/real-postfix-3.7.prom") || fail "oneshot output differs from $golden"
echo "ok: oneshot output matches the golden file and passes promtool"
