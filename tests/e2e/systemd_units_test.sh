#!/usr/bin/env bash
# systemd-analyze verify accepts the shipped units (syntax, known directives,
# executable ExecStart). The units name /usr/local/bin; here they are pointed at
# the build's binaries, the same substitution `cmake --install` makes for its prefix.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
work=$(make_workdir units)
cleanup_push "rm -rf '$work'"
for unit in "$SASLGUARD_SOURCE_DIR"/deploy/systemd/*.service; do
  sed -e "s|/usr/local/bin/saslguard-exporter|$SASLGUARD_BUILD_DIR/exporter/saslguard-exporter|" \
      -e "s|/usr/local/bin/saslguard-receiver|$SASLGUARD_BUILD_DIR/receiver/saslguard-receiver|" \
      "$unit" > "$work/$(basename "$unit")"
done
out=$(systemd-analyze verify --man=no "$work"/*.service 2>&1) || fail "systemd-analyze verify failed: $out"
# verify exits 0 on some warnings: treat any output about our units as a failure.
if echo "$out" | grep -E 'saslguard-(exporter|receiver)\.service' ; then
  fail "systemd-analyze reported problems"
fi
echo "units verified: $(ls "$work" | tr '\n' ' ')"
