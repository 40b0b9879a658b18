// Child side of the container sandbox: the mount plan and the identity of a container,
// applied by the freshly cloned init (already in its new namespaces) before it runs anything.
#pragma once

#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

// Runs the fixed, ordered list of containment steps: make every mount private, mount the
// overlay root, /proc, /dev, /sys, the bind mounts, the masked and read-only kernel paths,
// the read-only root, set the hostname, bring up loopback, then pivot_root into the rootfs.
// Returns true with the process's root and cwd at the container's "/"; on failure returns
// false with `failure` describing the step (stage kMounts, kIdentity or kPivotRoot, errno and
// the path).
// With a user namespace the overlay root is already mounted (by the monitor, id-mapped) and
// this step is skipped.
bool SetUpSandbox(const MonitorConfig& config, StartReport* failure);

// Mounts the overlay of config.lower_dirs, upper_dir and work_dir at config.rootfs_dir.
// Fails with stage kMounts.
bool MountRootfsOverlay(const MonitorConfig& config, StartReport* failure);

}  // namespace quilt
