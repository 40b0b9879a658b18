#!/bin/sh
# Installs a build tree into a temporary prefix (and once more with DESTDIR staging) and
# checks what lands there: binaries, the default image, the systemd unit and the OpenRC
# service, with paths pointing at the installed quiltd. Needs no root.
#
# usage: install_tree_test.sh <build dir>
set -eu

build=$1

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

work=$(mktemp -d "${TMPDIR:-/tmp}/quilt-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "cmake --install into $prefix"; }

for binary in quiltd quilt-cli quilt-monitor; do
  if [ ! -f "$prefix/bin/$binary" ] || [ ! -x "$prefix/bin/$binary" ]; then
    fail "bin/$binary not installed"
  fi
done
# quiltd looks for the default image at ../share/quilt beside its own binary.
tar -tf "$prefix/share/quilt/default-rootfs.tar" | grep -qx "./bin/busybox" ||
  fail "share/quilt/default-rootfs.tar is not the busybox rootfs"

unit=$prefix/lib/systemd/system/quiltd.service
[ -f "$unit" ] || fail "lib/systemd/system/quiltd.service not installed"
for line in \
  "Type=simple" \
  "ExecStart=$prefix/bin/quiltd --socket \${RUNTIME_DIRECTORY}/quilt.sock --state-dir \${STATE_DIRECTORY}" \
  "RuntimeDirectory=quilt" "StateDirectory=quilt" "Delegate=yes" "KillMode=process" \
  "Restart=on-failure" "LimitNOFILE=1048576" "TasksMax=infinity" "WantedBy=multi-user.target"; do
  grep -qxF "$line" "$unit" || fail "quiltd.service lacks the line: $line"
done
! grep -q "@" "$unit" || fail "quiltd.service has an unsubstituted @VARIABLE@"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log" >&2; fail "systemd-analyze verify quiltd.service"; }
fi

initd=$prefix/etc/init.d/quiltd
[ -x "$initd" ] || fail "etc/init.d/quiltd not installed executable"
[ "$(head -n 1 "$initd")" = "#!/sbin/openrc-run" ] || fail "etc/init.d/quiltd is not an openrc-run script"
grep -qF "command=\"\${QUILTD_BINARY:-$prefix/bin/quiltd}\"" "$initd" ||
  fail "etc/init.d/quiltd does not run $prefix/bin/quiltd"
sh -n "$initd" || fail "etc/init.d/quiltd is not valid sh"
grep -qx 'rc_cgroup_cleanup="no"' "$prefix/etc/conf.d/quiltd" || fail "etc/conf.d/quiltd not installed"

# A package build stages into DESTDIR: the files land there but name the final prefix.
stage=$work/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr >"$work/stage.log" 2>&1 ||
  { cat "$work/stage.log" >&2; fail "DESTDIR=$stage cmake --install --prefix /usr"; }
grep -q "^ExecStart=/usr/bin/quiltd " "$stage/usr/lib/systemd/system/quiltd.service" ||
  fail "staged quiltd.service does not run /usr/bin/quiltd"
[ -x "$stage/usr/bin/quiltd" ] || fail "staged usr/bin/quiltd missing"
# /usr's configuration lives in /etc, as GNUInstallDirs has it.
[ -x "$stage/etc/init.d/quiltd" ] || fail "staged /etc/init.d/quiltd missing"

echo "ok: install tree in $prefix and DESTDIR staging are complete"
