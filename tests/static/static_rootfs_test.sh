#!/bin/sh
# Proves the static binaries need no libc: builds a rootfs holding only quiltd, quilt-cli,
# quilt-monitor and busybox (no /lib, no loader), imports it into the static quiltd, and in
# a container from it runs `quilt-cli version` (no daemon reachable) and a nested quiltd
# that serves `quilt-cli version` on a socket in the container's /tmp. Needs root.
#
# usage: static_rootfs_test.sh <dir with quiltd, quilt-cli, quilt-monitor> <busybox> <version>
set -eu

bin=$1
busybox=$2
version=$3
here=$(cd "$(dirname "$0")" && pwd)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (namespaces, mounts, cgroups)"

for binary in quiltd quilt-cli quilt-monitor; do
  file -L "$bin/$binary" | grep -q "statically linked" ||
    fail "$binary is not statically linked: $(file -L "$bin/$binary")"
  if ldd "$bin/$binary" >/dev/null 2>&1; then fail "ldd lists libraries of $binary"; fi
done
echo "ok: quiltd, quilt-cli and quilt-monitor are statically linked"

work=$(mktemp -d "${TMPDIR:-/tmp}/quilt-static-test.XXXXXX")
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The rootfs: busybox with its applet links, the three binaries, the mount points. Nothing else.
rootfs=$work/rootfs
mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
chmod 1777 "$rootfs/tmp"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
done
cp "$bin/quiltd" "$bin/quilt-cli" "$bin/quilt-monitor" "$rootfs/bin/"
cp "$here/in_container.sh" "$rootfs/bin/in-container"
chmod 0755 "$rootfs/bin/in-container"
if [ -e "$rootfs/lib" ] || [ -e "$rootfs/lib64" ] || [ -e "$rootfs/usr" ]; then
  fail "rootfs has a library directory"
fi
[ -z "$(find "$rootfs" -name '*.so*')" ] || fail "rootfs holds a shared object"
tar -C "$rootfs" -cf "$work/rootfs.tar" .

socket=$work/quilt.sock
"$bin/quiltd" --socket "$socket" --state-dir "$work/state" >"$work/quiltd.log" 2>&1 &
daemon_pid=$!
tries=0
until [ -S "$socket" ]; do
  tries=$((tries + 1))
  [ "$tries" -lt 100 ] || { cat "$work/quiltd.log" >&2; fail "quiltd did not serve within 10 s"; }
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/quiltd.log" >&2; fail "quiltd exited"; }
  sleep 0.1
done
cli() { "$bin/quilt-cli" --socket "$socket" "$@"; }

cli image import "$work/rootfs.tar" --name quilt-static-test >/dev/null ||
  fail "import the static rootfs"

# 1. quilt-cli alone: no daemon behind /tmp/none.sock, so it prints its own version and
#    exits 1 (version.cc reports the unreachable server as an error).
status=0
cli run --rm --image quilt-static-test -- /bin/quilt-cli --socket /tmp/none.sock version \
  >"$work/client.out" 2>"$work/client.err" || status=$?
[ "$status" = 1 ] || { cat "$work/client.out" "$work/client.err" >&2; fail "version exited $status, want 1"; }
grep -qx "  version: $version" "$work/client.out" ||
  { cat "$work/client.out" >&2; fail "no client version $version in the container's output"; }
! grep -q "^Server:" "$work/client.out" || fail "a server answered on /tmp/none.sock"
echo "ok: quilt-cli version runs in the libc-free container (client $version, exit 1 without a daemon)"

# 2. quiltd inside the container, serving on /tmp/q.sock; in_container.sh gives it cgroups,
#    which needs mount(2): CAP_SYS_ADMIN, and no seccomp filter refusing mount.
status=0
cli run --rm --image quilt-static-test --cap-add SYS_ADMIN --seccomp unconfined -- /bin/in-container >"$work/nested.out" 2>&1 || status=$?
[ "$status" = 0 ] || { cat "$work/nested.out" >&2; fail "nested quiltd run exited $status"; }
# Client and server each print "  version: X"; the server's follows "Server:".
if ! grep -q "^Server:" "$work/nested.out" ||
  [ "$(grep -cx "  version: $version" "$work/nested.out")" != 2 ]; then
  cat "$work/nested.out" >&2
  fail "the nested quiltd did not report server version $version"
fi
echo "ok: static quiltd serves inside the libc-free container:"
sed 's/^/    /' "$work/nested.out"
