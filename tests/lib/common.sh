# shellcheck shell=bash
# Helpers every integration script shares. Source it; it sets nothing global
# beyond these functions.

# free_port: a TCP port nothing uses on this host now, picked at random below
# the kernel's ephemeral range (ip_local_port_range, 32768+ on Linux), so an
# outgoing connection of another daemon never takes it between the pick and the
# bind. Checked with ss (no interpreter start: this runs several times per test).
free_port() {
  local lo=20000 hi=32767 p i
  read -r i _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null && [ "$i" -gt $((lo + 1000)) ] && hi=$((i - 1))
  for i in $(seq 1 50); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    if [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
  done
  echo "free_port: no free port found in $lo-$hi" >&2
  return 1
}

# wait_http URL [TIMEOUT_S]: waits until URL answers 2xx.
wait_http() {
  local url=$1 t=${2:-30} i
  for i in $(seq 1 $((t * 10))); do
    curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "wait_http: $url did not answer within ${t}s" >&2
  return 1
}

# wait_for TIMEOUT_S CMD...: retries CMD every 0.2s until it succeeds.
wait_for() {
  local t=$1 i
  shift
  for i in $(seq 1 $((t * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "wait_for: '$*' did not succeed within ${t}s" >&2
  return 1
}

# make_workdir NAME: a fresh private directory under /tmp for one test run;
# removed by the EXIT trap that cleanup_push installs.
make_workdir() {
  local d
  d=$(mktemp -d "/tmp/saslguard-$1-XXXXXX")
  chmod 755 "$d"
  echo "$d"
}

# A stack of cleanup commands run on exit (daemons to stop, dirs to remove).
_cleanups=()
cleanup_push() { _cleanups+=("$*"); trap _run_cleanups EXIT; }
_run_cleanups() {
  local i
  for ((i=${#_cleanups[@]}-1; i>=0; i--)); do eval "${_cleanups[$i]}" || true; done
}

# Assertions that print what differed; each failure exits the script non-zero.
fail() { echo "FAIL: $*" >&2; exit 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$2', got '$1'"; }

# Build directory and binaries (CTest sets SASLGUARD_BUILD_DIR).
SASLGUARD_SOURCE_DIR=${SASLGUARD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SASLGUARD_BUILD_DIR=${SASLGUARD_BUILD_DIR:-$SASLGUARD_SOURCE_DIR/build}
