#!/usr/bin/env bash
# The Debian package: built from this tree with debian/ (dpkg-buildpackage,
# reusing the CMake tree CTest runs from: SASLGUARD_PREBUILT, see debian/rules),
# checked for contents and metadata, linted, then installed, removed and
# purged with this machine's real dpkg and package database, and compared with
# a snapshot taken before: after the purge nothing of saslguard is left but its
# system user (Debian practice, docs/production.md).
#
# The install happens in a private mount namespace whose /etc, /usr and /var are
# overlays (writes land in the test's work directory): it is the machine's own
# Debian 12 with its own Postfix, adduser and libraries, and the host never sees
# the package, the user or the files. There is no systemd as PID 1 here, as on
# CI: the maintainer scripts must install, enable and purge without it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/common.sh"
[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i in a private namespace)"
for b in exporter/saslguard-exporter receiver/saslguard-receiver receiver/saslguardctl; do
  [ -x "$SASLGUARD_BUILD_DIR/$b" ] || fail "$b not built in $SASLGUARD_BUILD_DIR"
done

if [ -z "${SASLGUARD_DEB_NS:-}" ]; then
  exec env SASLGUARD_DEB_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
work=$(make_workdir deb)
cleanup_push "rm -rf '$work'"

# --- build ------------------------------------------------------------------------
# dpkg-buildpackage writes its results next to the source tree: build from a copy.
mkdir -p "$work/src/saslguard"
tar -C "$SASLGUARD_SOURCE_DIR" --exclude='./build*' --exclude=./node_modules --exclude=./.git \
  -cf - . | tar -C "$work/src/saslguard" -xf -
(cd "$work/src/saslguard" &&
  SASLGUARD_PREBUILT=$SASLGUARD_BUILD_DIR dpkg-buildpackage -b -us -uc > "$work/build.log" 2>&1) ||
  fail "dpkg-buildpackage failed: $(tail -30 "$work/build.log")"
deb=$(ls "$work"/src/saslguard_*_amd64.deb 2>/dev/null || ls "$work"/src/saslguard_*.deb | grep -v dbgsym)
[ -f "$deb" ] || fail "no .deb built"
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# --- contents and metadata ------------------------------------------------------
contents=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/saslguard-exporter /usr/bin/saslguard-receiver /usr/sbin/saslguardctl \
         /lib/systemd/system/saslguard-exporter.service /lib/systemd/system/saslguard-receiver.service \
         /etc/saslguard/receiver.yml /etc/default/saslguard-exporter \
         /usr/share/saslguard/rules/saslguard.rules.yml \
         /usr/share/saslguard/grafana/provisioning/dashboards/saslguard/saslguard.json \
         /usr/share/saslguard/grafana/provisioning/datasources/saslguard.yml \
         /usr/share/doc/saslguard/copyright /usr/share/doc/saslguard/changelog.gz \
         /usr/share/doc/saslguard/production.md.gz /usr/share/doc/saslguard/examples/prometheus.yml \
         /usr/share/doc/saslguard/examples/alertmanager.yml /usr/share/man/man8/saslguardctl.8.gz; do
  grep -qx "$f" <<<"$contents" || fail "not in the package: $f"
done
! grep -q '^/usr/local' <<<"$contents" || fail "the package installs into /usr/local"
assert_eq "$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | sort | tr '\n' ' ')" \
  "/etc/default/saslguard-exporter /etc/saslguard/receiver.yml " "conffiles"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libcurl4 libsqlite3-0 libyaml-cpp0.7 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
         libcpp-httplib0.11 adduser postfix; do
  grep -qE "(^|, )$d( |,|$)" <<<"$depends" || fail "Depends lacks $d: $depends"
done
# Only what the daemons need at run time: no build, test or bench tools.
all_deps="$depends, $(dpkg-deb -f "$deb" Recommends), $(dpkg-deb -f "$deb" Suggests)"
for t in clang wrk gnuplot mtail nodejs npm catch2 swaks cmake prometheus-postfix-exporter; do
  ! grep -qE "(^|, )$t[ ,]" <<<"$all_deps, " || fail "the package pulls in the test tool $t: $all_deps"
done
units=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./lib/systemd/system/saslguard-exporter.service \
  ./lib/systemd/system/saslguard-receiver.service | grep '^ExecStart=' | cut -d' ' -f1 | tr '\n' ' ')
assert_eq "$units" "ExecStart=/usr/bin/saslguard-exporter ExecStart=/usr/bin/saslguard-receiver " "ExecStart"

# --- lintian ----------------------------------------------------------------------
# Every tag, down to pedantic, fails the test unless debian/saslguard.lintian-overrides
# explains it. Three tags are suppressed here only, because the prebuilt tree is
# compiled by scripts/test.sh, not the way a release build (dpkg-buildpackage
# without SASLGUARD_PREBUILT) compiles it:
# - the two hardening tags: CMake's flags, not dpkg-buildflags' (-D_FORTIFY_SOURCE=2,
#   -z now);
# - spelling-error-in-binary: its hits here are fragments of strings the compiler
#   stores as immediates ("userA", "boun"), and which fragments exist depends on
#   the code generation (the unity build has other ones than a release build).
changes=$(ls "$work"/src/saslguard_*.changes)
lintian --fail-on error,warning,info,pedantic -I --pedantic \
  --suppress-tags hardening-no-fortify-functions,hardening-no-bindnow,spelling-error-in-binary \
  "$changes" > "$work/lintian.log" 2>&1 ||
  fail "lintian: $(cat "$work/lintian.log")"
echo "lintian: clean ($(grep -c . "$work/lintian.log" || true) lines of output)"

# --- install, remove, purge on this machine (private overlays) --------------------
for d in etc usr var; do
  mkdir -p "$work/$d-upper" "$work/$d-work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/$d-upper,workdir=$work/$d-work" "/$d"
done
[ ! -d /run/systemd/system ] || fail "expected a host without systemd as PID 1"
# What a package may change, with content: every file under these paths.
snapshot_paths=(/etc /usr/bin /usr/sbin /usr/lib/systemd /usr/share/saslguard /usr/share/doc/saslguard
                /usr/share/man/man8 /var/lib/saslguard /var/lib/systemd /var/lib/dpkg/info)
snapshot() { # every path with type, mode and owner; every regular file with its sha256
  local existing=() p
  for p in "${snapshot_paths[@]}"; do [ -e "$p" ] && existing+=("$p"); done
  { find "${existing[@]}" -xdev -printf '%p %y %m %u:%g\n'
    find "${existing[@]}" -xdev -type f ! -path /etc/ld.so.cache -print0 | xargs -0 -r sha256sum |
      awk '{print $2, "sha256", substr($1, 1, 16)}'
  } | grep -v '^/etc/ld.so.cache ' | sort
}
snapshot > "$work/before.txt"
cp /etc/passwd "$work/passwd.before"
getent passwd saslguard >/dev/null && fail "a saslguard user exists before the install"
if getent group prometheus >/dev/null; then token_owner="root:prometheus 640"; else token_owner="root:root 600"; fi

dpkg -i "$deb" > "$work/dpkg-i.log" 2>&1 || fail "dpkg -i: $(cat "$work/dpkg-i.log")"
assert_eq "$(dpkg-query -W -f='${Status}' saslguard)" "install ok installed" "status after dpkg -i"
id -nG saslguard | tr ' ' '\n' | grep -qx adm || fail "user saslguard is not in adm"
assert_eq "$(getent passwd saslguard | cut -d: -f6,7)" "/nonexistent:/usr/sbin/nologin" "saslguard's home and shell"
assert_eq "$(stat -c '%U:%G %a' /etc/saslguard/webhook-token | awk '{print $1, $2}')" "$token_owner" "webhook token"
[ "$(wc -c < /etc/saslguard/webhook-token)" -ge 40 ] || fail "webhook token too short"
assert_eq "$(stat -c '%a' /var/lib/saslguard)" 700 "/var/lib/saslguard mode"
[ -L /etc/systemd/system/multi-user.target.wants/saslguard-exporter.service ] ||
  fail "the exporter is not enabled"
[ ! -e /etc/systemd/system/multi-user.target.wants/saslguard-receiver.service ] ||
  fail "the receiver was enabled before it is configured"
/usr/bin/saslguard-receiver --config /etc/saslguard/receiver.yml --check-config > "$work/check.log" 2>&1 ||
  fail "the installed receiver rejects the installed config: $(cat "$work/check.log")"
/usr/sbin/saslguardctl --config /etc/saslguard/receiver.yml list-blocks > "$work/ctl.log" 2>&1 ||
  fail "saslguardctl list-blocks on a fresh install: $(cat "$work/ctl.log")"

# A local edit of a conffile survives a reinstall and a remove.
echo "# local edit" >> /etc/saslguard/receiver.yml
token=$(cat /etc/saslguard/webhook-token)
dpkg -i "$deb" > "$work/dpkg-i2.log" 2>&1 || fail "reinstall: $(cat "$work/dpkg-i2.log")"
grep -q '^# local edit' /etc/saslguard/receiver.yml || fail "reinstall overwrote the edited receiver.yml"
assert_eq "$(cat /etc/saslguard/webhook-token)" "$token" "webhook token after a reinstall"

dpkg -r saslguard > "$work/dpkg-r.log" 2>&1 || fail "dpkg -r: $(cat "$work/dpkg-r.log")"
[ ! -e /usr/bin/saslguard-receiver ] || fail "dpkg -r left the binaries"
grep -q '^# local edit' /etc/saslguard/receiver.yml || fail "dpkg -r removed a conffile"
[ -d /var/lib/saslguard ] || fail "dpkg -r removed the state"

dpkg -P saslguard > "$work/dpkg-p.log" 2>&1 || fail "dpkg -P: $(cat "$work/dpkg-p.log")"
snapshot > "$work/after.txt"
diff "$work/before.txt" "$work/after.txt" > "$work/diff.txt" || true
# Left behind on purpose: the system user and group (and the files adduser
# rewrites to record them, with their backups).
unexpected=$(grep '^[<>]' "$work/diff.txt" |
  grep -v -E '^[<>] /etc/(passwd|group|shadow|gshadow)-? ' || true)
[ -z "$unexpected" ] || fail "left behind after dpkg -P:
$unexpected"
diff "$work/passwd.before" <(grep -v '^saslguard:' /etc/passwd) > /dev/null ||
  fail "/etc/passwd differs by more than the saslguard user"
getent passwd saslguard >/dev/null || fail "the saslguard user was expected to stay (Debian practice)"
echo "after dpkg -P: only /etc/{passwd,group,shadow,gshadow}[-] differ (user saslguard kept)"
echo "deb_test: ok"
