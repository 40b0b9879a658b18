#!/bin/sh
# Checks the default image: rebuilt from the same busybox it is byte-identical (stable
# digest), and it holds the shell, the applet links and the user database.
# usage: default_rootfs_test.sh <make-default-rootfs.sh> <busybox> <built default-rootfs.tar>
set -eu
script=$1
busybox=$2
built=$3

scratch=$(mktemp -d "${TMPDIR:-/tmp}/quilt-default-rootfs-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

"$script" "$busybox" "$scratch/again.tar"
cmp -s "$built" "$scratch/again.tar" || fail "rebuilding gives different bytes"

listing=$(tar -tvf "$built")
echo "$listing" | grep -q '^-rwxr-xr-x 0/0 .* \./bin/busybox$' || fail "no executable bin/busybox"
echo "$listing" | grep -q ' \./bin/sh -> /bin/busybox$' || fail "no bin/sh link"
echo "$listing" | grep -q ' \./usr/bin/env -> /bin/busybox$' || fail "no usr/bin/env link"
echo "$listing" | grep -q '^drwxrwxrwt 0/0 .* \./tmp/$' || fail "tmp/ is not 1777"
for dir in proc sys dev root sbin usr/sbin; do
  echo "$listing" | grep -q " \./$dir/\$" || fail "no $dir/"
done
tar -xOf "$built" ./etc/passwd | grep -qx 'root:x:0:0:root:/root:/bin/sh' || fail "passwd: root"
tar -xOf "$built" ./etc/passwd | grep -q '^nobody:x:65534:65534:' || fail "passwd: nobody"
tar -xOf "$built" ./etc/group | grep -qx 'nogroup:x:65534:' || fail "group: nogroup"
echo "default image OK"
