# shellcheck shell=bash
# A private PostgreSQL cluster for the fleet tests: initdb in a temp dir, owned
# by the postgres user, listening on a unix socket only (no TCP port), stopped
# on exit. Nothing of the host's own clusters is touched.
#
#   pg_create_start DIR     makes and starts the cluster, creates database saslguard;
#                           sets PG_DIR, PG_SOCK (socket directory), PG_CONNINFO
#   pg_private_cluster NAME a work dir of its own (removed on exit) with a cluster
#                           in it: for the tests that need nothing but PostgreSQL
#   pg_stop DIR / pg_start DIR   stop or start it again (the outage tests)
#   pg_sql DIR "SQL"        runs SQL in database saslguard, prints unaligned rows

_pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

_pg_as() { runuser -u postgres -- "$@"; }

pg_create_start() {
  local dir=$1
  [ -x "$_pg_bin/initdb" ] || fail "no PostgreSQL server (scripts/install-deps.sh installs postgresql)"
  mkdir -p "$dir/data" "$dir/sock"
  chown -R postgres:postgres "$dir"
  chmod 700 "$dir/data"
  # The temp dir's parents must be traversable by postgres.
  chmod o+x "$(dirname "$dir")" 2>/dev/null || true
  _pg_as "$_pg_bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync > "$dir/initdb.log" 2>&1 ||
    fail "initdb: $(tail -5 "$dir/initdb.log")"
  pg_start "$dir"
  cleanup_push "pg_stop '$dir'"
  _pg_as "$_pg_bin/psql" -h "$dir/sock" -U postgres -d postgres -qAt -c "CREATE DATABASE saslguard" >/dev/null ||
    fail "createdb failed"
  PG_DIR=$dir
  PG_SOCK=$dir/sock
  PG_CONNINFO="host=$dir/sock user=postgres dbname=saslguard connect_timeout=5"
}

pg_private_cluster() {
  local work
  work=$(make_workdir "$1")
  cleanup_push "rm -rf '$work'"
  chmod 711 "$work"  # postgres reaches the socket below
  pg_create_start "$work/pg"
}

pg_start() {
  local dir=$1
  _pg_as "$_pg_bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir/sock -c listen_addresses= -c fsync=off" start > /dev/null ||
    fail "PostgreSQL did not start: $(tail -5 "$dir/server.log")"
}

pg_stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  _pg_as "$_pg_bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop > /dev/null 2>&1 || true
}

pg_sql() {
  local dir=$1
  _pg_as "$_pg_bin/psql" -h "$dir/sock" -U postgres -d saslguard -qAt -c "$2"
}

# pg_postfix_lookups DIR: the two pgsql: lookup files every host's Postfix
# uses (docs/fleet.md shows the same), DIR/pg-login.cf and DIR/pg-ip.cf, on
# this cluster's socket (call after pg_create_start).
pg_postfix_lookups() {
  local dir=$1 kind
  for kind in login ip; do
    cat > "$dir/pg-$kind.cf" <<CF
hosts = unix:$PG_SOCK
user = postgres
dbname = saslguard
query = SELECT action FROM saslguard_blocks WHERE kind = '$kind' AND target = lower('%s') AND (expires_at IS NULL OR expires_at > now()) LIMIT 1
CF
  done
  chmod 644 "$dir"/pg-*.cf
}

# pg_postfix_use PFDIR DIR: that private Postfix (tests/lib/postfix.sh) looks
# logins and client addresses up in DIR's files, right after its own hash:
# maps, through proxymap (before pf_start, or reload it).
pg_postfix_use() {
  local pf=$1 dir=$2
  pf_env "$pf"
  postconf -c "$PF_ETC" -e \
    "smtpd_sender_restrictions = check_sasl_access hash:$PF_SASL_ACCESS, check_sasl_access proxy:pgsql:$dir/pg-login.cf" \
    "smtpd_client_restrictions = check_client_access hash:$PF_CLIENT_ACCESS, check_client_access proxy:pgsql:$dir/pg-ip.cf" \
    "proxy_read_maps = proxy:pgsql:$dir/pg-login.cf proxy:pgsql:$dir/pg-ip.cf"
}
