// The host's cgroup layout as plain data, and the pure decisions made from it: which version
// serves each controller, where the parent cgroup is in each hierarchy, which files get which
// values in which order, and what the v2 parent needs before children can use controllers.
// Everything here is computed from facts read elsewhere (cgroup_discovery.cc), so the v1, v2
// and hybrid logic is unit-tested on any host.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quiltd/cgroup/cgroup_manager.h"
#include "quiltd/cgroup/cgroup_parse.h"

namespace quilt {

enum class CgroupController { kMemory = 0, kCpu = 1, kCpuacct = 2, kPids = 3 };
inline constexpr std::array<CgroupController, 4> kAllCgroupControllers = {
    CgroupController::kMemory, CgroupController::kCpu, CgroupController::kCpuacct,
    CgroupController::kPids};

// The kernel's name of the controller ("memory", "cpu", "cpuacct", "pids").
absl::string_view ControllerName(CgroupController controller);

enum class CgroupVersion { kUnavailable, kV1, kV2 };

// One mounted hierarchy Quilt uses (a v1 hierarchy, possibly co-mounted like "cpu,cpuacct",
// or the v2 unified one).
struct CgroupHierarchy {
  bool v2 = false;
  std::string mount_point;
  std::string parent_dir;          // absolute directory of the parent cgroup under mount_point
  bool mounted_from_root = false;  // mount_point shows the hierarchy's real root cgroup
  std::vector<CgroupController> controllers;
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kV1;
  std::vector<CgroupHierarchy> hierarchies;  // each directory tree once
  std::array<int, kAllCgroupControllers.size()> hierarchy_of = {-1, -1, -1, -1};

  // The hierarchy serving `controller`, or nullptr when it is unavailable.
  const CgroupHierarchy* HierarchyOf(CgroupController controller) const;
  CgroupVersion VersionOf(CgroupController controller) const;
  // The v2 hierarchy if any controller uses it, else nullptr.
  const CgroupHierarchy* V2Hierarchy() const;
};

// What discovery reads from the host.
struct CgroupHostFacts {
  // (controller, mount point) pairs as libcgroup lists the mounted controllers.
  std::vector<std::pair<std::string, std::string>> controller_mounts;
  std::vector<CgroupMountInfo> mounts;           // cgroup mounts from /proc/self/mountinfo
  std::vector<std::string> v2_root_controllers;  // cgroup.controllers of the v2 mount
  std::vector<ProcCgroupEntry> self;             // /proc/self/cgroup
};

// The unified (cgroup2) mount: /sys/fs/cgroup when it is cgroup2, else the first cgroup2
// mount; nullptr when there is none.
const CgroupMountInfo* FindV2Mount(const std::vector<CgroupMountInfo>& mounts);

// Resolves the parent cgroup path inside one hierarchy. `own` is quiltd's own cgroup there
// (relative to the mount). Empty `parent` means `own`; an absolute `parent` is taken from
// the hierarchy root; a relative one is below `own`. Fails with INVALID_ARGUMENT on "." or
// ".." components or a NUL byte.
absl::StatusOr<std::string> ResolveParentPath(absl::string_view own, absl::string_view parent);

// Makes a /proc/self/cgroup path relative to a mount whose root is `mount_root` (cgroupfs
// may be mounted from a subtree, e.g. inside a container). FAILED_PRECONDITION when the path
// is not visible through that mount.
absl::StatusOr<std::string> PathWithinMount(absl::string_view path, absl::string_view mount_root);

// Decides mode, the version of each controller (v1 if mounted on v1, else v2 if the v2 root
// offers it, else unavailable; cpuacct exists on v1 only) and each hierarchy's parent dir.
absl::StatusOr<CgroupLayout> ComputeCgroupLayout(const CgroupHostFacts& facts,
                                                 absl::string_view parent);

// One write of a limit, applied in plan order.
struct CgroupFileWrite {
  CgroupController controller;
  std::string file;
  std::string value;
  bool skip_if_absent = false;  // e.g. memory.memsw.* without swap accounting
};

inline constexpr int64_t kCpuPeriodMicros = 100000;
// The kernel rejects CFS quotas under 1 ms.
inline constexpr int64_t kMinCpuQuotaMicros = 1000;

// CFS quota for `cpus` CPUs per kCpuPeriodMicros, at least kMinCpuQuotaMicros.
int64_t CpuQuotaMicros(double cpus);

// The limit writes for `limits` on `layout`, in the order the kernel needs (memory limit
// before memsw; CFS period before quota). Fails with INVALID_ARGUMENT on a negative or absurd
// value or when a requested limit's controller is unavailable on this host.
absl::StatusOr<std::vector<CgroupFileWrite>> PlanLimitWrites(const CgroupLimits& limits,
                                                             const CgroupLayout& layout);

// What to do to a v2 cgroup so its children can use `wanted` controllers.
struct V2SubtreeStep {
  bool move_self_to_leaf = false;  // move quiltd (only) into <dir>/quiltd-daemon first
  std::string subtree_control;     // to write to cgroup.subtree_control; empty: nothing
};

// Plans enabling `wanted` in a v2 cgroup whose subtree_control holds `enabled` and whose
// cgroup.procs lists `procs`. Processes in a non-root cgroup forbid enabling controllers
// ("no internal processes"), so quiltd moves itself to a leaf; FAILED_PRECONDITION when
// other processes are there, since Quilt never moves processes it does not own.
absl::StatusOr<V2SubtreeStep> PlanV2Subtree(const std::vector<std::string>& wanted,
                                            const std::vector<std::string>& enabled,
                                            const std::vector<int>& procs, int self_pid,
                                            bool is_root);

// A memory limit as read back: v1 reports "unlimited" as a huge page-rounded number, v2 as
// "max" (parsed as 0). Returns 0 for unlimited.
int64_t MemoryLimitOrZero(int64_t value);

}  // namespace quilt
