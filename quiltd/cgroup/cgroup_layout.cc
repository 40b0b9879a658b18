#include "quiltd/cgroup/cgroup_layout.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace quilt {
namespace {

bool Contains(const std::vector<std::string>& list, absl::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

const CgroupMountInfo* FindMount(const std::vector<CgroupMountInfo>& mounts,
                                 absl::string_view mount_point) {
  for (const CgroupMountInfo& mount : mounts) {
    if (mount.mount_point == mount_point) return &mount;
  }
  return nullptr;
}

// Returns the v1 mount serving `name`, or nullptr. libcgroup 2.0.2 lists v2 controllers too
// and cannot tell which version a mount is, so the fstype comes from mountinfo.
const CgroupMountInfo* FindV1Mount(const CgroupHostFacts& facts, absl::string_view name) {
  for (const auto& [controller, mount_point] : facts.controller_mounts) {
    if (controller != name) continue;
    const CgroupMountInfo* mount = FindMount(facts.mounts, mount_point);
    if (mount != nullptr && !mount->v2) return mount;
  }
  return nullptr;
}

// quiltd's own cgroup in the hierarchy of `name` (v1), or in the unified one (empty name).
absl::StatusOr<std::string> OwnPath(const std::vector<ProcCgroupEntry>& self,
                                    absl::string_view name) {
  for (const ProcCgroupEntry& entry : self) {
    bool match = name.empty() ? (entry.hierarchy_id == 0 && entry.controllers.empty())
                              : Contains(entry.controllers, name);
    if (match) return entry.path;
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "find own cgroup: no ", name.empty() ? "cgroup2" : name, " entry in /proc/self/cgroup"));
}

absl::StatusOr<CgroupHierarchy> MakeHierarchy(const CgroupMountInfo& mount, absl::string_view own,
                                              absl::string_view parent) {
  QUILT_ASSIGN_OR_RETURN(std::string within, PathWithinMount(own, mount.root));
  QUILT_ASSIGN_OR_RETURN(std::string resolved, ResolveParentPath(within, parent));
  CgroupHierarchy hierarchy;
  hierarchy.v2 = mount.v2;
  hierarchy.mount_point = mount.mount_point;
  hierarchy.parent_dir =
      resolved == "/" ? mount.mount_point : absl::StrCat(mount.mount_point, resolved);
  hierarchy.mounted_from_root = mount.root == "/";
  return hierarchy;
}

// Adds `controller` to the layout, served by `mount`; a hierarchy shared by several
// controllers (co-mounted cpu,cpuacct; v2) is listed once.
absl::Status AddController(CgroupLayout& layout, CgroupController controller,
                           const CgroupMountInfo& mount, absl::string_view own,
                           absl::string_view parent) {
  for (size_t i = 0; i < layout.hierarchies.size(); ++i) {
    if (layout.hierarchies[i].mount_point == mount.mount_point) {
      layout.hierarchies[i].controllers.push_back(controller);
      layout.hierarchy_of[static_cast<int>(controller)] = static_cast<int>(i);
      return absl::OkStatus();
    }
  }
  QUILT_ASSIGN_OR_RETURN(CgroupHierarchy hierarchy, MakeHierarchy(mount, own, parent));
  hierarchy.controllers.push_back(controller);
  layout.hierarchies.push_back(std::move(hierarchy));
  layout.hierarchy_of[static_cast<int>(controller)] =
      static_cast<int>(layout.hierarchies.size() - 1);
  return absl::OkStatus();
}

absl::Status Unavailable(absl::string_view what, CgroupController controller) {
  return absl::InvalidArgumentError(absl::StrCat(what, " limit: ", ControllerName(controller),
                                                 " controller not available on this host"));
}

}  // namespace

absl::string_view ControllerName(CgroupController controller) {
  switch (controller) {
    case CgroupController::kMemory:
      return "memory";
    case CgroupController::kCpu:
      return "cpu";
    case CgroupController::kCpuacct:
      return "cpuacct";
    case CgroupController::kPids:
      return "pids";
  }
  return "unknown";
}

const CgroupHierarchy* CgroupLayout::HierarchyOf(CgroupController controller) const {
  int index = hierarchy_of[static_cast<int>(controller)];
  return index < 0 ? nullptr : &hierarchies[index];
}

CgroupVersion CgroupLayout::VersionOf(CgroupController controller) const {
  const CgroupHierarchy* hierarchy = HierarchyOf(controller);
  if (hierarchy == nullptr) return CgroupVersion::kUnavailable;
  return hierarchy->v2 ? CgroupVersion::kV2 : CgroupVersion::kV1;
}

const CgroupHierarchy* CgroupLayout::V2Hierarchy() const {
  for (const CgroupHierarchy& hierarchy : hierarchies) {
    if (hierarchy.v2) return &hierarchy;
  }
  return nullptr;
}

const CgroupMountInfo* FindV2Mount(const std::vector<CgroupMountInfo>& mounts) {
  const CgroupMountInfo* first = nullptr;
  for (const CgroupMountInfo& mount : mounts) {
    if (!mount.v2) continue;
    if (mount.mount_point == "/sys/fs/cgroup") return &mount;
    if (first == nullptr) first = &mount;
  }
  return first;
}

absl::StatusOr<std::string> ResolveParentPath(absl::string_view own, absl::string_view parent) {
  std::string resolved;
  if (parent.empty()) {
    resolved = std::string(own);
  } else if (parent[0] == '/') {
    resolved = std::string(parent);
  } else {
    resolved = own == "/" ? absl::StrCat("/", parent) : absl::StrCat(own, "/", parent);
  }
  while (resolved.size() > 1 && resolved.back() == '/') resolved.pop_back();
  QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("cgroup parent", resolved));
  return resolved;
}

absl::StatusOr<std::string> PathWithinMount(absl::string_view path, absl::string_view mount_root) {
  if (mount_root == "/") return std::string(path);
  if (path == mount_root) return std::string("/");
  if (absl::StartsWith(path, mount_root) && path.size() > mount_root.size() &&
      path[mount_root.size()] == '/') {
    return std::string(path.substr(mount_root.size()));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("find own cgroup: ", path, " is outside the mounted subtree ", mount_root));
}

absl::StatusOr<CgroupLayout> ComputeCgroupLayout(const CgroupHostFacts& facts,
                                                 absl::string_view parent) {
  CgroupLayout layout;
  const CgroupMountInfo* v2 = FindV2Mount(facts.mounts);
  for (CgroupController controller : kAllCgroupControllers) {
    absl::string_view name = ControllerName(controller);
    if (const CgroupMountInfo* v1 = FindV1Mount(facts, name); v1 != nullptr) {
      QUILT_ASSIGN_OR_RETURN(std::string own, OwnPath(facts.self, name));
      QUILT_RETURN_IF_ERROR(AddController(layout, controller, *v1, own, parent));
    } else if (v2 != nullptr && controller != CgroupController::kCpuacct &&
               Contains(facts.v2_root_controllers, name)) {
      QUILT_ASSIGN_OR_RETURN(std::string own, OwnPath(facts.self, ""));
      QUILT_RETURN_IF_ERROR(AddController(layout, controller, *v2, own, parent));
    }
  }
  // The mode counts every v1 controller mounted, not only the ones Quilt uses.
  bool any_v1 = false;
  for (const auto& [controller, mount_point] : facts.controller_mounts) {
    const CgroupMountInfo* mount = FindMount(facts.mounts, mount_point);
    if (mount != nullptr && !mount->v2) any_v1 = true;
  }
  if (any_v1) {
    layout.mode = v2 != nullptr ? CgroupMode::kHybrid : CgroupMode::kV1;
  } else {
    layout.mode = v2 != nullptr ? CgroupMode::kV2 : CgroupMode::kV1;
  }
  return layout;
}

int64_t CpuQuotaMicros(double cpus) {
  auto quota = static_cast<int64_t>(std::llround(cpus * static_cast<double>(kCpuPeriodMicros)));
  return std::max(quota, kMinCpuQuotaMicros);
}

absl::StatusOr<std::vector<CgroupFileWrite>> PlanLimitWrites(const CgroupLimits& limits,
                                                             const CgroupLayout& layout) {
  // 1e6 CPUs keeps the quota far inside int64 and above any real machine.
  if (limits.memory_bytes < 0 || limits.pids_max < 0 || !(limits.cpus >= 0) || limits.cpus > 1e6) {
    return absl::InvalidArgumentError("apply limits: negative or out-of-range value");
  }
  std::vector<CgroupFileWrite> writes;
  using C = CgroupController;
  if (limits.memory_bytes > 0) {
    std::string bytes = absl::StrCat(limits.memory_bytes);
    switch (layout.VersionOf(C::kMemory)) {
      case CgroupVersion::kUnavailable:
        return Unavailable("memory", C::kMemory);
      case CgroupVersion::kV1:
        // The kernel requires memsw >= limit, so the plain limit goes first. Equal values
        // mean "no swap on top of the memory limit".
        writes.push_back({C::kMemory, "memory.limit_in_bytes", bytes, false});
        writes.push_back({C::kMemory, "memory.memsw.limit_in_bytes", bytes, true});
        break;
      case CgroupVersion::kV2:
        writes.push_back({C::kMemory, "memory.max", bytes, false});
        writes.push_back({C::kMemory, "memory.swap.max", "0", true});
        break;
    }
  }
  if (limits.cpus > 0) {
    int64_t quota = CpuQuotaMicros(limits.cpus);
    switch (layout.VersionOf(C::kCpu)) {
      case CgroupVersion::kUnavailable:
        return Unavailable("cpu", C::kCpu);
      case CgroupVersion::kV1:
        // The quota is checked against the current period, so set the period first.
        writes.push_back({C::kCpu, "cpu.cfs_period_us", absl::StrCat(kCpuPeriodMicros), false});
        writes.push_back({C::kCpu, "cpu.cfs_quota_us", absl::StrCat(quota), false});
        break;
      case CgroupVersion::kV2:
        writes.push_back({C::kCpu, "cpu.max", absl::StrCat(quota, " ", kCpuPeriodMicros), false});
        break;
    }
  }
  if (limits.pids_max > 0) {
    if (layout.VersionOf(C::kPids) == CgroupVersion::kUnavailable) {
      return Unavailable("pids", C::kPids);
    }
    writes.push_back({C::kPids, "pids.max", absl::StrCat(limits.pids_max), false});
  }
  return writes;
}

absl::StatusOr<V2SubtreeStep> PlanV2Subtree(const std::vector<std::string>& wanted,
                                            const std::vector<std::string>& enabled,
                                            const std::vector<int>& procs, int self_pid,
                                            bool is_root) {
  std::vector<std::string> missing;
  for (const std::string& controller : wanted) {
    if (!Contains(enabled, controller)) missing.push_back(absl::StrCat("+", controller));
  }
  V2SubtreeStep step;
  if (missing.empty()) return step;
  step.subtree_control = absl::StrJoin(missing, " ");
  // The root cgroup is exempt from the "no internal processes" rule.
  if (is_root || procs.empty()) return step;
  for (int pid : procs) {
    if (pid != self_pid) {
      return absl::FailedPreconditionError(absl::StrCat(
          "enable cgroup controllers: parent cgroup holds process ", pid,
          " that is not quiltd; give quiltd a cgroup of its own or set a cgroup parent"));
    }
  }
  step.move_self_to_leaf = true;
  return step;
}

int64_t MemoryLimitOrZero(int64_t value) {
  // v1 reports "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages);
  // no real limit comes near 2^62.
  constexpr int64_t kUnlimitedThreshold = int64_t{1} << 62;
  return value >= kUnlimitedThreshold ? 0 : value;
}

}  // namespace quilt
