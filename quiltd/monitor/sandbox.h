// Child side of the container sandbox: the mount plan and the identity of a container,
// applied by the freshly cloned init (already in its new namespaces) before it runs anything.
#pragma once

#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

// Host paths the sandbox steps start from, opened before them: with a user namespace the
// init takes container root's ids before mounting (so that what it creates in its own
// tmpfs and devpts is owned by mapped ids), and container root cannot reach paths below
// root-only directories such as the 0700 bundle directory.
struct SandboxSources {
  UniqueFd root;                // the rootfs (the overlay's root), O_PATH
  std::vector<UniqueFd> binds;  // config.mounts[i].source, O_PATH
  // Where StageKernelFileSystems mounted /proc, /dev and /sys ahead, or empty.
  std::string staged_dir;
};

// A prestarted init's head start (spare_pool.h): makes every mount private, mounts a tmpfs
// on `stage_dir` (created if missing) and below it /proc, /dev and /sys as SetUpSandbox
// would, masked and read-only paths included. A claimed container then only moves the three
// trees into its rootfs: 3 mounts instead of ~30 and ~100 other syscalls on the start's path.
// The tmpfs exists only in this mount namespace, so every spare can use the same directory.
bool StageKernelFileSystems(const std::string& stage_dir, StartReport* failure);

// Steps a-b: makes every mount private (a staged init did so already), mounts the overlay
// root (unless a user namespace is used: the monitor mounted it, id-mapped) and opens
// `sources` (all but staged_dir, which the caller sets). Fails with stage kMounts.
bool PrepareRootfs(const MonitorConfig& config, SandboxSources* sources, StartReport* failure);

// Runs the rest of the fixed, ordered list of containment steps: /proc, /dev, /sys (moved
// from sources.staged_dir when the container has no bind mounts), the bind mounts, the
// masked and read-only kernel paths, the read-only root, the hostname, loopback, then
// pivot_root into the rootfs. Returns true with the process's root and cwd at the
// container's "/"; on failure returns false with `failure` describing the step (stage
// kMounts, kIdentity or kPivotRoot, errno and the path).
bool SetUpSandbox(const MonitorConfig& config, SandboxSources sources, StartReport* failure);

// Brings up the loopback interface of the process's network namespace (already up: no-op).
// Fails with stage kIdentity.
bool BringUpLoopback(StartReport* failure);

// Mounts the overlay of config.lower_dirs, upper_dir and work_dir at config.rootfs_dir.
// Fails with stage kMounts.
bool MountRootfsOverlay(const MonitorConfig& config, StartReport* failure);

}  // namespace quilt
