#!/usr/bin/env bash
# `cmake --install` (into a DESTDIR, never the host) puts every artefact in
# place: the three binaries, example configs, rules, Grafana provisioning, docs,
# and the systemd units with ExecStart pointing at the install's bindir; every
# installed file is listed in install_manifest.txt (the units too), and nothing
# goes to /etc (that is the Debian package's job).
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
         share/doc/saslguard/examples/saslguard-exporter \
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
[ ! -e "$work/etc" ] || fail "cmake --install wrote to /etc: $(find "$work/etc")"
# install_manifest.txt lists exactly the files that were installed.
manifest=$SASLGUARD_BUILD_DIR/install_manifest.txt
installed=$(cd "$work" && find ./opt -type f | sed 's|^\.||' | sort)
listed=$(sort "$manifest")
assert_eq "$listed" "$installed" "install_manifest.txt vs the files installed"
grep -qx /opt/saslguard/lib/systemd/system/saslguard-receiver.service "$manifest" ||
  fail "the receiver unit is not in install_manifest.txt"
echo ok
