#!/usr/bin/env bash
# The tests' private Postfix (tests/lib/postfix.sh) must touch nothing of the
# host's Postfix: not its config or meta files (/etc/postfix), its commands
# (/usr/sbin/post*, sendmail), its daemons and libraries (/usr/lib/postfix), nor
# its man pages. `postfix -c DIR set-permissions` used to chown/chmod all of
# those (post-install treats an instance not listed in the host's
# multi_instance_directories as the primary one) — to the same values on a stock
# machine, but on a tuned mail server it would reset them.
#
# Snapshot owner, group, mode, mtime and ctime (ctime changes on any chown or
# chmod, even to the same value: the only trace a no-op reset leaves) of every
# such path — the fixed list above plus every shared path the host's
# postfix-files names (what post-install would touch) — then create, start,
# send through, stop and remove a private instance, and compare.
#
# On a shared machine, another checkout still running an older postfix.sh at
# the same time would change ctimes too; the failure lists each path and how.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/postfix.sh
. "$here/../lib/postfix.sh"

# Every host Postfix path that a set-up could change, one per line.
host_paths() {
  local meta
  meta=$(postconf -d -h meta_directory)
  {
    find /etc/postfix "$meta" 2>/dev/null
    ls -d /usr/sbin/post* /usr/sbin/sendmail 2>/dev/null
    find /usr/lib/postfix 2>/dev/null
    ls -d /usr/share/man/man*/post* 2>/dev/null
    # The shared entries of postfix-files ($name/…:type:…), expanded with the
    # host's defaults; the per-instance ones (config, queue, data) are private.
    local f line path name rest value
    declare -A def
    while IFS=' = ' read -r name value; do def[$name]=$value; done < <(postconf -d 2>/dev/null)
    for f in "$meta/postfix-files" "$meta"/postfix-files.d/*; do
      [ -f "$f" ] || continue
      while IFS= read -r line; do
        path=${line%%:*}
        [[ $path == \$* ]] || continue
        name=${path#\$}
        name=${name%%/*}
        rest=${path#\$"$name"}
        case $name in config_directory|queue_directory|data_directory) continue ;; esac
        value=${def[$name]:-}
        [ -n "$value" ] && [ "$value" != no ] && echo "$value$rest"
      done < "$f"
    done
  } | sort -u | while IFS= read -r p; do [ -e "$p" ] || [ -L "$p" ] && echo "$p"; done
}
# path|owner:group|mode|mtime|ctime (lstat: a symlink is itself, not its target)
snapshot() { host_paths | xargs -r -d '\n' stat -c '%n|%U:%G|%a|%Y|%Z' --; }

work=$(make_workdir pf-host)
[ -n "${KEEP_WORKDIR:-}" ] || cleanup_push "rm -rf '$work'"
snapshot > "$work/before"
n=$(wc -l < "$work/before")
[ "$n" -gt 50 ] || fail "only $n host Postfix paths found: is Postfix installed? $(head -5 "$work/before")"
# ctime has a one-second resolution in %Z: let a second pass so that a change
# made right after the snapshot cannot hide in the same second.
sleep 1.1

pf_create "$work/pf"
pf_add_user "$work/pf" alice@saslguard.test secret
pf_start "$work/pf" || fail "private Postfix did not start: $(tail -5 "$work/pf/log/mail.log")"
pf_send "$work/pf" alice@saslguard.test secret || fail "submission through the private instance failed"
pf_sendmail "$work/pf" bob@saslguard.test
pf_wait_log "$work/pf" 'status=deferred' 1 60 || fail "no delivery attempt: $(tail -5 "$work/pf/log/mail.log")"
pf_reload "$work/pf"
pf_stop "$work/pf"
rm -rf "$work/pf"

snapshot > "$work/after"
if ! diff "$work/before" "$work/after" > "$work/diff"; then
  echo "host Postfix paths changed (path|owner:group|mode|mtime|ctime; < before, > after):" >&2
  head -40 "$work/diff" >&2
  fail "$(grep -c '^>' "$work/diff" || true) of $n host Postfix paths changed by a private instance's set-up"
fi
echo "$n host Postfix paths: owner, mode, mtime and ctime unchanged"
echo ok
