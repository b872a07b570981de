# shellcheck shell=bash
# A private saslauthd for tests: `-a shadow` against the system's own
# /etc/shadow, its own socket directory (`-m DIR`, socket DIR/mux) and pid file,
# so it never touches the host's saslauthd. Throwaway Unix accounts are created
# for the test and removed again on exit.
#
# Usage (source it after tests/lib/postfix.sh, then):
#   sa_start DIR                  # saslauthd -a shadow -m DIR; waits for DIR/mux
#   sa_stop DIR
#   sa_add_unix_user USER PASS    # useradd (no home, nologin) + chpasswd; removed on exit
#   sa_check DIR USER PASS        # testsaslauthd against this saslauthd (0 = OK)
#   pf_use_saslauthd PFDIR DIR    # switch a tests/lib/postfix.sh instance to
#                                 # pwcheck_method: saslauthd, saslauthd_path: DIR/mux
# Needs root (saslauthd reads /etc/shadow; useradd).

sa_start() {
  local dir=$1 i
  mkdir -p "$dir"
  chmod 755 "$dir"  # smtpd runs as postfix and must reach DIR/mux
  saslauthd -a shadow -m "$dir" -n 2 || return 1
  for i in $(seq 1 100); do
    [ -S "$dir/mux" ] && [ -s "$dir/saslauthd.pid" ] && return 0
    sleep 0.1
  done
  echo "sa_start: saslauthd in $dir did not come up" >&2
  return 1
}

sa_stop() {
  local dir=$1 pid i
  [ -s "$dir/saslauthd.pid" ] || return 0
  pid=$(tr -d ' \n' < "$dir/saslauthd.pid")
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

sa_add_unix_user() {
  local user=$1 pass=$2
  # A regular (uid >= 1000) account: saslguard refuses to lock system accounts.
  useradd -M -N -s /usr/sbin/nologin "$user" || return 1
  cleanup_push "userdel '$user' >/dev/null 2>&1"
  printf '%s:%s\n' "$user" "$pass" | chpasswd
}

sa_check() { testsaslauthd -f "$1/mux" -u "$2" -p "$3" >/dev/null 2>&1; }

pf_use_saslauthd() {
  local pfdir=$1 dir=$2
  pf_env "$pfdir"
  cat > "$PF_ETC/sasl/smtpd.conf" <<CF
pwcheck_method: saslauthd
saslauthd_path: $dir/mux
mech_list: PLAIN LOGIN
CF
}
