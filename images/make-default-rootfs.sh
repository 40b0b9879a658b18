#!/bin/sh
# Builds Quilt's default image: a minimal rootfs made of Debian's busybox-static, one symlink
# per applet, and the few files a shell and user lookups expect. The tar is deterministic
# (sorted names, fixed mtime, numeric root ownership), so its sha256 digest is stable.
#
# usage: make-default-rootfs.sh <busybox binary> <output.tar>
set -eu

busybox=$1
output=$2

if [ ! -x "$busybox" ]; then
  echo "make-default-rootfs: $busybox: not an executable (install busybox-static)" >&2
  exit 1
fi

staging=$(mktemp -d "${TMPDIR:-/tmp}/quilt-default-rootfs.XXXXXX")
trap 'rm -rf "$staging"' EXIT INT TERM
umask 022

mkdir -p "$staging/bin" "$staging/sbin" "$staging/usr/bin" "$staging/usr/sbin" \
  "$staging/etc" "$staging/root" "$staging/tmp" "$staging/proc" "$staging/sys" "$staging/dev"
cp "$busybox" "$staging/bin/busybox"
chmod 0755 "$staging/bin/busybox"

# Applets resolve by argv[0], so an absolute link works wherever the rootfs is mounted.
"$busybox" --list-full | while IFS= read -r applet; do
  case "$applet" in
    bin/busybox | "") continue ;;
  esac
  mkdir -p "$staging/$(dirname "$applet")"
  ln -sf /bin/busybox "$staging/$applet"
done

cat >"$staging/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$staging/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo quilt >"$staging/etc/hostname"
cat >"$staging/etc/hosts" <<'HOSTS'
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
HOSTS
chmod 0700 "$staging/root"
chmod 1777 "$staging/tmp"
chmod 0755 "$staging" "$staging/proc" "$staging/sys" "$staging/dev"

tmp_output="$output.tmp"
tar --create --file="$tmp_output" --directory="$staging" --format=gnu --sort=name \
  --mtime=@0 --owner=0 --group=0 --numeric-owner .
mv "$tmp_output" "$output"
