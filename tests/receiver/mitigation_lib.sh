# shellcheck shell=bash
# Shared by the mitigation integration scripts: a saslguardctl configuration
# pointing at a private Postfix instance (tests/lib/postfix.sh), and a wrapper.
#
#   mit_config PFDIR CFG [extra YAML lines for the mitigation: section]
#   ctl CFG ARGS...        # runs saslguardctl, output in $CTL_OUT, status in $CTL_RC
. "$(dirname "${BASH_SOURCE[0]}")/../lib/postfix.sh"

SASLGUARDCTL=${SASLGUARDCTL:-$SASLGUARD_BUILD_DIR/receiver/saslguardctl}
[ -x "$SASLGUARDCTL" ] || { echo "SKIP/FAIL: $SASLGUARDCTL not built" >&2; exit 1; }

mit_config() { # PFDIR CFG [extra mitigation lines...]
  local pf=$1 cfg=$2
  shift 2
  pf_env "$pf"
  echo "test-token-$$-0123456789abcdef" > "$PF_DIR/token"
  chmod 600 "$PF_DIR/token"  # the receiver refuses secrets others may read
  {
    echo "listen_address: 127.0.0.1:1"
    echo "state_path: $PF_DIR/state.db"
    echo "webhook:"
    echo "  bearer_token_file: $PF_DIR/token"
    echo "mitigation:"
    echo "  postfix_config_dir: $PF_ETC"
    echo "  sasl_access_map: $PF_SASL_ACCESS"
    echo "  client_access_map: $PF_CLIENT_ACCESS"
    echo "  map_type: hash"
    echo "  showq_path: $PF_SHOWQ"
    echo "  postfix_bin_dir: $(dirname "$(command -v postsuper)")"
    echo "  sasldb_path: $PF_SASLDB"
    echo "  command_timeout: 20s"
    local l
    for l in "$@"; do echo "  $l"; done
  } > "$cfg"
}

# mit_setup NAME [mitigation lines...]: a fresh work dir, a private Postfix with
# alice@saslguard.test (alicepw) and bob@saslguard.test (bobpw), started, and a
# saslguardctl config. Sets $work, $cfg and the instance's PF_* variables.
mit_setup() {
  local name=$1
  shift
  work=$(make_workdir "$name")
  cleanup_push "rm -rf '$work'"
  pf_create "$work/pf"
  cleanup_push "pf_stop '$work/pf'"
  pf_add_user "$work/pf" alice@saslguard.test alicepw
  pf_add_user "$work/pf" bob@saslguard.test bobpw
  pf_start "$work/pf"
  pf_env "$work/pf"
  cfg=$work/receiver.yml
  mit_config "$work/pf" "$cfg" "$@"
}

ctl() { # CFG ARGS...
  local cfg=$1
  shift
  CTL_RC=0
  CTL_OUT=$("$SASLGUARDCTL" --config "$cfg" "$@" 2>&1) || CTL_RC=$?
  echo "saslguardctl $*: rc=$CTL_RC: $CTL_OUT" | head -20 >&2
}
ctl_ok() { ctl "$@"; [ "$CTL_RC" = 0 ] || fail "saslguardctl $* failed: $CTL_OUT"; }

# smtp_code PFDIR USER PASS [swaks args]: the first 4xx/5xx reply code of the
# session (535 = AUTH failed, 554 = rejected by an access map), or 250 when the
# message was queued.
smtp_code() {
  local dir=$1 user=$2 pass=$3
  shift 3
  pf_env "$dir"
  local out bad
  out=$(swaks --server 127.0.0.1 --port "$PF_SUBMISSION_PORT" --auth PLAIN \
        --auth-user "$user" --auth-password "$pass" --from "$user" --to "rcpt@remote.example" \
        --hide-informational --hide-send "$@" 2>&1)
  bad=$(printf '%s\n' "$out" | grep -E '^<\*\* [45][0-9][0-9]' | head -1 | cut -c5-7)
  if [ -n "$bad" ]; then echo "$bad"
  elif grep -q 'queued as' <<<"$out"; then echo 250
  else echo "none"; fi
}
