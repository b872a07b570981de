# shellcheck shell=bash
# Runs a command inside the file-system sandbox a systemd unit declares, without
# systemd as PID 1 (this project's CI has none): a private mount namespace
# (unshare -m) that applies the unit's [Service] settings the way systemd's
# namespace setup does:
#
#   ProtectSystem=strict     every mount read-only except /proc, /sys, /dev
#   ReadWritePaths=          bound writable again; "-path" is skipped when missing,
#                            a missing path without "-" fails, as systemd fails
#                            the unit ("Failed to set up mount namespacing")
#   ReadOnlyPaths=           bound read-only (applied after, deeper paths last)
#   StateDirectory=NAME      /var/lib/NAME created and writable
#   PrivateTmp=yes           empty /tmp and /var/tmp
#   ProtectHome=yes          /home, /root, /run/user empty and read-only
#   UMask=, NoNewPrivileges=yes, CapabilityBoundingSet=, User=root (the only user
#   supported: the receiver's)
#
# Not emulated (no bearing on which files a command may write): the seccomp
# filters, Protect{Kernel*,ControlGroups,Clock,Hostname}, PrivateDevices,
# RestrictAddressFamilies.
#
#   unit_sandbox_run UNIT_FILE CMD [ARGS...]
#
# Output: the command's; status: the command's, or 226 (systemd's EXIT_NAMESPACE)
# when the namespace cannot be set up, with the reason on stderr. Needs root.

_unit_values() { # UNIT KEY: every value of KEY= in [Service], words split, in order
  awk -v key="$2" '
    /^\[/ { in_service = ($0 == "[Service]") }
    in_service && index($0, key "=") == 1 { sub(/^[^=]*=/, ""); print }' "$1" | tr ' ' '\n' | grep -v '^$' || true
}

unit_sandbox_run() {
  local unit=$1
  shift
  [ -f "$unit" ] || { echo "unit_sandbox_run: no unit file $unit" >&2; return 2; }
  local protect user umask nnp caps
  protect=$(_unit_values "$unit" ProtectSystem | tail -1)
  user=$(_unit_values "$unit" User | tail -1)
  umask=$(_unit_values "$unit" UMask | tail -1)
  nnp=$(_unit_values "$unit" NoNewPrivileges | tail -1)
  caps=$(_unit_values "$unit" CapabilityBoundingSet | tr '\n' ' ')
  if [ -n "$user" ] && [ "$user" != root ]; then
    echo "unit_sandbox_run: only User=root is emulated" >&2
    return 2
  fi
  [ "$protect" = strict ] || { echo "unit_sandbox_run: only ProtectSystem=strict is emulated" >&2; return 2; }
  local state rw ro private_tmp protect_home
  state=$(_unit_values "$unit" StateDirectory | tr '\n' ' ')
  rw=$(_unit_values "$unit" ReadWritePaths | tr '\n' ' ')
  ro=$(_unit_values "$unit" ReadOnlyPaths | tr '\n' ' ')
  private_tmp=$(_unit_values "$unit" PrivateTmp | tail -1)
  protect_home=$(_unit_values "$unit" ProtectHome | tail -1)
  local setpriv=(setpriv)
  [ "$nnp" = yes ] && setpriv+=(--no-new-privs)
  if [ -n "$caps" ]; then
    local c list=-all
    for c in $caps; do list+=",+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"; done
    setpriv+=(--bounding-set "$list")
  fi
  # The namespace script gets its settings through the environment, the command as "$@".
  SB_STATE=$state SB_RW=$rw SB_RO=$ro SB_TMP=$private_tmp SB_HOME=$protect_home SB_UMASK=$umask \
    unshare -m --propagation private bash -c '
    set -u
    die() { echo "unit_sandbox: $*" >&2; exit 226; }
    for s in $SB_STATE; do mkdir -p -m 0700 "/var/lib/$s"; SB_RW="$SB_RW /var/lib/$s"; done
    # 1. Each ReadWritePaths entry becomes its own mount (while everything is still writable).
    rw_paths=()
    for p in $SB_RW; do
      opt=0; [ "${p#-}" != "$p" ] && { opt=1; p=${p#-}; }
      if [ ! -e "$p" ]; then
        [ $opt = 1 ] && continue
        die "ReadWritePaths=$p: No such file or directory"
      fi
      mount --bind "$p" "$p" || die "bind $p"
      rw_paths+=("$p")
    done
    # 2. ProtectSystem=strict: every other mount read-only.
    is_rw() { local q; for q in "${rw_paths[@]}"; do [ "$1" = "$q" ] && return 0; done; return 1; }
    while read -r mp; do
      case $mp in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
      is_rw "$mp" && continue
      mount -o remount,bind,ro "$mp" 2>/dev/null || true
    done < <(awk "{print \$5}" /proc/self/mountinfo)
    # 3. ReadOnlyPaths, shallow before deep.
    for p in $(printf "%s\n" $SB_RO | awk "{ print length(\$0) \" \" \$0 }" | sort -n | cut -d" " -f2-); do
      opt=0; [ "${p#-}" != "$p" ] && { opt=1; p=${p#-}; }
      if [ ! -e "$p" ]; then [ $opt = 1 ] && continue; die "ReadOnlyPaths=$p: No such file or directory"; fi
      mount --bind "$p" "$p" && mount -o remount,bind,ro "$p" || die "read-only $p"
    done
    if [ "$SB_TMP" = yes ]; then
      mount -t tmpfs -o mode=1777 tmpfs /tmp && mount -t tmpfs -o mode=1777 tmpfs /var/tmp || die "PrivateTmp"
    fi
    if [ "$SB_HOME" = yes ]; then
      for h in /home /root /run/user; do
        [ -d "$h" ] && { mount -t tmpfs -o ro,mode=0755 tmpfs "$h" || die "ProtectHome $h"; }
      done
    fi
    [ -n "$SB_UMASK" ] && umask "$SB_UMASK"
    exec "$@"
  ' unit-sandbox "${setpriv[@]}" -- "$@"
}
