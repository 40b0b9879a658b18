// Child side of the container sandbox: the mount plan and the identity of a container,
// applied by the freshly cloned init (already in its new namespaces) before it runs anything.
#pragma once

#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

// /proc, /dev and /sys mounted ahead by StageKernelFileSystems: O_PATH fds of the three mount
// roots, all valid or all invalid.
struct StagedTrees {
  UniqueFd proc;
  UniqueFd dev;
  UniqueFd sys;
  bool valid() const { return proc.valid() && dev.valid() && sys.valid(); }
};

// Host paths the sandbox steps start from, opened before them: with a user namespace the
// init takes container root's ids before mounting (so that what it creates in its own
// tmpfs and devpts is owned by mapped ids), and container root cannot reach paths below
// root-only directories such as the 0700 bundle directory.
struct SandboxSources {
  UniqueFd root;                // the rootfs (the overlay's root), O_PATH
  std::vector<UniqueFd> binds;  // config.mounts[i].source, O_PATH
  StagedTrees staged;           // set by the caller, if it staged
};

// A prestarted init's head start (spare_pool.h): makes every mount a slave (nothing it mounts
// reaches the host; the host's unmounts still reach it, so an idle spare pins no file
// system), mounts a tmpfs on `stage_dir` (created if missing) and below it /proc, /dev and
// /sys as SetUpSandbox would, masked and read-only paths included, and opens them into
// `staged`. A claimed container then only moves the three trees into its rootfs: 3 calls
// on the start's path instead of ~20 mounts among ~130 other syscalls. The tmpfs exists only in
// this mount namespace, so every spare can use the same directory. The masks are applied inside the
// stage, where no symlink of an image can redirect them.
bool StageKernelFileSystems(const std::string& stage_dir, StagedTrees* staged,
                            StartReport* failure);

// Steps a-b: makes every mount private, mounts the overlay root (unless a user namespace is
// used: the monitor mounted it, id-mapped) and opens `sources` (all but `staged`). Fails
// with stage kMounts.
bool PrepareRootfs(const MonitorConfig& config, SandboxSources* sources, StartReport* failure);

// Runs the rest of the fixed, ordered list of containment steps: /proc, /dev, /sys (the
// staged trees moved in when the container has no bind mounts and they can still be moved,
// else mounted here), the bind mounts, the masked and read-only kernel paths, the
// read-only root, the hostname, loopback, then pivot_root into the rootfs. Returns true with the
// process's root and cwd at the container's "/"; on failure returns false with `failure` describing
// the step (stage kMounts, kIdentity or kPivotRoot, errno and the path).
bool SetUpSandbox(const MonitorConfig& config, SandboxSources sources, StartReport* failure);

// Brings up the loopback interface of the process's network namespace (already up: no-op).
// Fails with stage kIdentity.
bool BringUpLoopback(StartReport* failure);

// Mounts the overlay of config.lower_dirs, upper_dir and work_dir at config.rootfs_dir.
// Fails with stage kMounts.
bool MountRootfsOverlay(const MonitorConfig& config, StartReport* failure);

}  // namespace quilt
