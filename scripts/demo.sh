#!/usr/bin/env bash
# saslguard demo: a compromised SMTP account caught and stopped, end to end, on
# this machine, on 127.0.0.1 only.
#
#   sudo ./scripts/demo.sh            # confirm mode: the admin presses the buttons
#   sudo ./scripts/demo.sh --auto     # auto mode: the receiver blocks by itself
#   sudo ./scripts/demo.sh --no-deps  # skip scripts/install-deps.sh
#
# Installs the dependencies (scripts/install-deps.sh), builds the three binaries
# into build/, then starts in a private /tmp directory a private Postfix
# (Cyrus sasldb, dead relayhost), saslguard-exporter, Prometheus with the
# project's rules, Alertmanager with the project's route, saslguard-receiver and
# the Telegram Bot API emulator (tests/lib/stack.sh, the same code as the
# end-to-end test and the benchmark). Normal users send a little mail, then one
# password leaks and its owner bursts at 10 msg/s from 40 addresses. The demo
# prints what happens and the figures, and removes everything on exit (Ctrl-C
# included). The host's own Postfix, Prometheus and Alertmanager are never touched.
set -eo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=confirm
deps=1
for arg in "$@"; do
  case $arg in
    --auto) mode=auto ;;
    --confirm) mode=confirm ;;
    --no-deps) deps=0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $arg (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (Postfix, postsuper and the SASL db need it)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }
if [ "$deps" = 1 ]; then
  step "dependencies (scripts/install-deps.sh)"
  "$root/scripts/install-deps.sh"
fi
# SASLGUARD_BUILD_DIR: another build directory (default build/).
build=${SASLGUARD_BUILD_DIR:-$root/build}
step "build (cmake into $build: saslguard-exporter, saslguard-receiver, saslguardctl)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build "$build" -j "$(nproc)" --target saslguard-exporter saslguard-receiver saslguardctl 2>&1 | tail -1

export SASLGUARD_SOURCE_DIR=$root SASLGUARD_BUILD_DIR=$build
# shellcheck source=../tests/lib/stack.sh
. "$root/tests/lib/stack.sh"
work=$(make_workdir demo)
cleanup_push "rm -rf '$work'"
trap 'exit 130' INT TERM

step "starting the chain on 127.0.0.1 in $work ($mode mode)"
stack_start "$work" "$mode"
# shellcheck disable=SC1091
. "$work/stack.env"
cat <<TXT
  Postfix       submission 127.0.0.1:$PF_SUBMISSION_PORT, log $PF_LOG (private instance, dead relayhost)
  exporter      $STACK_EXPORTER_URL
  Prometheus    $PROM_URL       (deploy/prometheus.yml + rules/saslguard.rules.yml)
  Alertmanager  $STACK_AM_URL   (deploy/alertmanager.yml route)
  receiver      $STACK_RECEIVER_URL (deploy/receiver.yml; policy for SaslUserSendingSurge: $mode)
  Telegram      $TG_URL (telegram-test-api emulator; admin user $STACK_ADMIN)
TXT

step "timeline (seconds from the start of the burst)"
stack_scenario "$work"

step "figures"
stack_figures "$work"
echo
echo "Every time above is the recording daemon's own (Prometheus activeAt, Alertmanager's log,"
echo "the receiver's database, the emulator's receive time), not when this script noticed it."
echo "Targets with the shipped configs: alert → Telegram ≤ 5 s; burst → block ≤ 45 s (auto);"
echo "spam accepted before the block ≤ 500. What to tune: docs/demo.md."
step "cleaning up (stopping every daemon, removing $work)"
