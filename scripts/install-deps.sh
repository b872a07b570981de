#!/usr/bin/env bash
# Installs everything saslguard needs to build, test and run its demo, from
# Debian's packages and the npm registry. Safe to run twice: apt-get and npm ci
# are no-ops when everything is already there.
#
# This is for development and CI machines, not for a production mail host: it
# pulls in compilers, benchmark and test tools (clang, wrk, gnuplot, mtail, the
# npm emulator). A mail host installs the Debian package instead
# (docs/production.md), which declares only what the daemons need at run time.
#
# It never configures or starts the host's own Postfix, Prometheus or
# Alertmanager: services are kept from starting during the install (policy-rc.d),
# Postfix is installed with "No configuration", and every test and the demo run
# private instances on 127.0.0.1.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get install needs it)" >&2
  exit 1
fi

build_pkgs=(
  build-essential cmake pkg-config git ca-certificates
  prometheus-cpp-dev libcpp-httplib-dev nlohmann-json3-dev libcurl4-openssl-dev
  catch2 libsqlite3-dev libyaml-cpp-dev libsystemd-dev libpq-dev
  # the receiver's alert messages: client address -> country (legacy GeoIP.dat)
  libgeoip-dev
  clang libclang-rt-14-dev clang-format
  # the Debian package (debian/, dpkg-buildpackage) and its lintian check
  debhelper dpkg-dev fakeroot lintian
)
# stress-ng: the CPU hog of bench/soak/run.sh (the chain on a loaded machine).
run_pkgs=(
  postfix sasl2-bin libsasl2-modules libsasl2-modules-db db-util swaks
  prometheus prometheus-alertmanager prometheus-postfix-exporter mtail
  sqlite3 jq curl wrk procps iproute2 psmisc gnuplot-nox python3 python3-yaml time stress-ng
  # systemd-journal-remote: the journal-source tests build .journal files with it
  systemd-journal-remote
  # the fleet's shared blocks: a private PostgreSQL cluster and Postfix's pgsql: tables
  postgresql postfix-pgsql
  # countries of client addresses in the Telegram messages (read with libgeoip)
  geoip-database
  nodejs npm
)

missing=()
for p in "${build_pkgs[@]}" "${run_pkgs[@]}"; do
  # nodejs may come from another source that also ships npm; accept any node >= 18.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix: no system configuration, so nothing starts listening on port 25.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Keep package scripts from starting services on this host during the install.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  # Lock::Timeout: wait for another apt run (a second checkout installing at the same time) instead of failing.
  apt_get() { apt-get -y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"; }
  apt_get install --no-install-recommends "${missing[@]}" || { apt-get update -q -o DPkg::Lock::Timeout=600 && apt_get install --no-install-recommends "${missing[@]}"; }
fi

# The Telegram Bot API emulator, pinned by package-lock.json.
if [ -f "$here/package-lock.json" ]; then
  if [ ! -f "$here/node_modules/telegram-test-api/package.json" ] || \
     ! cmp -s "$here/package-lock.json" "$here/node_modules/.package-lock.json.saslguard" ; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$here/node_modules/.package-lock.json.saslguard"
  fi
fi
echo "install-deps: ok"
