#!/bin/sh
# Runs inside the libc-free test container (busybox sh): starts the static quiltd on
# /tmp/q.sock and asks it for its version with the static quilt-cli.
#
# A container sees no cgroup file system (its /sys is a fresh sysfs), and quiltd refuses to
# start without one (libcgroup's cgroup_init fails). So this mounts, in the container's own
# mount and cgroup namespaces, every hierarchy listed in /proc/self/cgroup: each shows the
# container's cgroup as its root, and quiltd would put nested containers below it.
set -eu

mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
while IFS=: read -r _ controllers _; do
  case "$controllers" in
    "") mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified ;;
    name=*) ;;
    *) mkdir -p "/sys/fs/cgroup/$controllers" &&
         mount -t cgroup -o "$controllers" cgroup "/sys/fs/cgroup/$controllers" ;;
  esac
done </proc/self/cgroup

quiltd --socket /tmp/q.sock --state-dir /tmp/state &
daemon=$!
tries=0
until [ -S /tmp/q.sock ]; do
  tries=$((tries + 1))
  if [ "$tries" -ge 100 ] || ! kill -0 "$daemon" 2>/dev/null; then
    echo "in-container: quiltd did not serve on /tmp/q.sock" >&2
    exit 1
  fi
  sleep 0.1
done
status=0
quilt-cli --socket /tmp/q.sock version || status=$?
kill -TERM "$daemon"
wait "$daemon" || status=$?
exit "$status"
