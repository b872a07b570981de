# shellcheck shell=bash
# Helpers every integration script shares. Source it; it sets nothing global
# beyond these functions.

# free_port: a free TCP port on 127.0.0.1 (bound, read, released).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
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
