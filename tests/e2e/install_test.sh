#!/usr/bin/env bash
# `cmake --install` (into a DESTDIR, never the host) puts every artefact in
# place: the three binaries, example configs, rules, Grafana provisioning, docs,
# and the systemd units with ExecStart pointing at the install's bindir.
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
work=$(make_workdir install)
cleanup_push "rm -rf '$work'"
DESTDIR=$work cmake --install "$SASLGUARD_BUILD_DIR" --prefix /opt/saslguard > "$work/install.log" 2>&1 ||
  fail "cmake --install failed: $(cat "$work/install.log")"
root=$work/opt/saslguard
for f in bin/saslguard-exporter bin/saslguard-receiver sbin/saslguardctl \
         share/doc/saslguard/examples/prometheus.yml share/doc/saslguard/examples/alertmanager.yml \
         share/doc/saslguard/examples/receiver.yml share/doc/saslguard/examples/secrets/webhook-token.example \
         share/saslguard/rules/saslguard.rules.yml \
         share/saslguard/grafana/provisioning/dashboards/saslguard/saslguard.json \
         share/saslguard/grafana/provisioning/datasources/saslguard.yml \
         share/doc/saslguard/production.md share/doc/saslguard/exporter.md \
         lib/systemd/system/saslguard-exporter.service lib/systemd/system/saslguard-receiver.service; do
  [ -e "$root/$f" ] || fail "not installed: $f"
done
assert_eq "$(grep -h '^ExecStart=' "$root"/lib/systemd/system/*.service | cut -d' ' -f1 | sort | tr '\n' ' ')" \
  "ExecStart=/opt/saslguard/bin/saslguard-exporter ExecStart=/opt/saslguard/bin/saslguard-receiver " "units' ExecStart"
! grep -rq /usr/local/bin "$root/lib/systemd/system" || fail "a unit still names /usr/local/bin"
echo ok
