#include "quiltd/cgroup/cgroup_manager.h"

#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "quiltd/cgroup/cgroup_discovery.h"
#include "quiltd/cgroup/cgroup_fs.h"
#include "quiltd/cgroup/cgroup_layout.h"

namespace quilt {
namespace {

constexpr char kContainerPrefix[] = "quilt-";
constexpr char kSparePrefix[] = "quilt-spare-";
// Bounded wait for killed processes to leave the cgroup (SIGKILL is delivered at once, but
// exit of a large process, e.g. unmapping gigabytes, takes time).
constexpr absl::Duration kKillTimeout = absl::Seconds(2);
// Bounded wait for rmdir while the kernel finishes releasing exited tasks.
constexpr absl::Duration kRemoveTimeout = absl::Seconds(1);

absl::Status CheckId(const std::string& id) {
  if (!IsValidId(id)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid container id \"", id, "\""));
  }
  return absl::OkStatus();
}

// Spare names are ours (hex and dashes), but checked like ids: they become paths.
absl::Status CheckSpareName(const std::string& name) {
  const bool valid = !name.empty() && name.size() <= 64 &&
                     name.find_first_not_of("0123456789abcdef-") == std::string::npos;
  if (!valid) return absl::InvalidArgumentError(absl::StrCat("invalid spare name \"", name, "\""));
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ReadInt(const std::string& path) {
  QUILT_ASSIGN_OR_RETURN(std::string text, ReadCgroupFile(path));
  return ParseCgroupInt(text);
}

// Reads an optional counter: 0 when the file or key is absent (older kernels).
int64_t ReadKeyedOrZero(const std::string& path, absl::string_view key) {
  absl::StatusOr<std::string> text = ReadCgroupFile(path);
  if (!text.ok()) return 0;
  return FindKeyedValue(*text, key).value_or(0);
}

}  // namespace

class CgroupManager::Impl {
 public:
  explicit Impl(CgroupLayout layout) : layout_(std::move(layout)) {}

  const CgroupLayout& layout() const { return layout_; }

  std::string Dir(const CgroupHierarchy& hierarchy, const std::string& id) const {
    return absl::StrCat(hierarchy.parent_dir, "/", kContainerPrefix, id);
  }
  std::string SpareDir(const CgroupHierarchy& hierarchy, const std::string& name) const {
    return absl::StrCat(hierarchy.parent_dir, "/", kSparePrefix, name);
  }
  std::vector<std::string> AllSpareDirs(const std::string& name) const {
    std::vector<std::string> dirs;
    for (const CgroupHierarchy& hierarchy : layout_.hierarchies) {
      dirs.push_back(SpareDir(hierarchy, name));
    }
    return dirs;
  }

  // The container's directory for `controller`, or empty when it is unavailable.
  std::string DirFor(CgroupController controller, const std::string& id) const {
    const CgroupHierarchy* hierarchy = layout_.HierarchyOf(controller);
    return hierarchy == nullptr ? std::string() : Dir(*hierarchy, id);
  }

  std::vector<std::string> AllDirs(const std::string& id) const {
    std::vector<std::string> dirs;
    for (const CgroupHierarchy& hierarchy : layout_.hierarchies) dirs.push_back(Dir(hierarchy, id));
    return dirs;
  }

  absl::Status FillMemoryStats(const std::string& id, CgroupStats& stats) const;
  void FillCpuStats(const std::string& id, CgroupStats& stats) const;

 private:
  const CgroupLayout layout_;
};

absl::Status CgroupManager::Impl::FillMemoryStats(const std::string& id, CgroupStats& stats) const {
  std::string dir = DirFor(CgroupController::kMemory, id);
  if (dir.empty()) return absl::OkStatus();
  bool v2 = layout_.VersionOf(CgroupController::kMemory) == CgroupVersion::kV2;
  QUILT_ASSIGN_OR_RETURN(
      stats.memory_current,
      ReadInt(absl::StrCat(dir, v2 ? "/memory.current" : "/memory.usage_in_bytes")));
  QUILT_ASSIGN_OR_RETURN(int64_t limit,
                         ReadInt(absl::StrCat(dir, v2 ? "/memory.max" : "/memory.limit_in_bytes")));
  stats.memory_limit = MemoryLimitOrZero(limit);
  // memory.peak arrived in Linux 5.19; without it the peak is reported as 0.
  absl::StatusOr<int64_t> peak =
      ReadInt(absl::StrCat(dir, v2 ? "/memory.peak" : "/memory.max_usage_in_bytes"));
  stats.memory_peak = peak.ok() ? *peak : 0;
  return absl::OkStatus();
}

void CgroupManager::Impl::FillCpuStats(const std::string& id, CgroupStats& stats) const {
  // v1 accounts CPU time in cpuacct; every v2 cgroup has cpu.stat, even without the cpu
  // controller enabled.
  if (std::string dir = DirFor(CgroupController::kCpuacct, id); !dir.empty()) {
    absl::StatusOr<int64_t> usage = ReadInt(absl::StrCat(dir, "/cpuacct.usage"));
    stats.cpu_usage_ns = usage.ok() ? *usage : 0;
  } else if (const CgroupHierarchy* v2 = layout_.V2Hierarchy(); v2 != nullptr) {
    stats.cpu_usage_ns =
        ReadKeyedOrZero(absl::StrCat(Dir(*v2, id), "/cpu.stat"), "usage_usec") * 1000;
  }
}

CgroupManager::CgroupManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CgroupManager::~CgroupManager() = default;

absl::StatusOr<std::unique_ptr<CgroupManager>> CgroupManager::Create(const std::string& parent) {
  QUILT_ASSIGN_OR_RETURN(CgroupHostFacts facts, ReadCgroupHostFacts());
  QUILT_ASSIGN_OR_RETURN(CgroupLayout layout, ComputeCgroupLayout(facts, parent));
  for (const CgroupHierarchy& hierarchy : layout.hierarchies) {
    if (hierarchy.v2) {
      QUILT_RETURN_IF_ERROR(PrepareV2Parent(hierarchy));
    } else {
      QUILT_RETURN_IF_ERROR(MakeCgroupDirs(hierarchy.mount_point, hierarchy.parent_dir));
    }
  }
  auto manager =
      std::unique_ptr<CgroupManager>(new CgroupManager(std::make_unique<Impl>(std::move(layout))));
  for (CgroupController controller : kAllCgroupControllers) {
    const CgroupHierarchy* hierarchy = manager->impl_->layout().HierarchyOf(controller);
    QUILT_LOG(INFO) << "cgroup " << ControllerName(controller) << ": "
                    << (hierarchy == nullptr
                            ? std::string("unavailable")
                            : absl::StrCat(hierarchy->v2 ? "v2 " : "v1 ", hierarchy->parent_dir));
  }
  return manager;
}

CgroupMode CgroupManager::mode() const { return impl_->layout().mode; }

std::string CgroupManager::ModeName() const {
  switch (mode()) {
    case CgroupMode::kV2:
      return "v2";
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

std::vector<std::string> CgroupManager::ParentDirs() const {
  std::vector<std::string> dirs;
  for (const CgroupHierarchy& hierarchy : impl_->layout().hierarchies) {
    dirs.push_back(hierarchy.parent_dir);
  }
  return dirs;
}

absl::StatusOr<CgroupPlacement> CgroupManager::CreateContainer(const std::string& id,
                                                               const CgroupLimits& limits) {
  QUILT_RETURN_IF_ERROR(CheckId(id));
  // Planning first validates every limit, so an unusable request touches nothing.
  QUILT_ASSIGN_OR_RETURN(std::vector<CgroupFileWrite> writes,
                         PlanLimitWrites(limits, impl_->layout()));
  std::vector<std::string> created;
  absl::Cleanup remove_created = [&created] {
    for (const std::string& dir : created) {
      absl::Status status = RemoveCgroupTree(dir, kRemoveTimeout);
      if (!status.ok()) {
        QUILT_LOG(WARNING) << "roll back cgroup: " << status.message();
      }
    }
  };
  for (const CgroupHierarchy& hierarchy : impl_->layout().hierarchies) {
    std::string dir = impl_->Dir(hierarchy, id);
    QUILT_RETURN_IF_ERROR(MakeCgroupDir(dir));
    created.push_back(dir);
  }
  for (const CgroupFileWrite& write : writes) {
    std::string path = absl::StrCat(impl_->DirFor(write.controller, id), "/", write.file);
    absl::Status status = WriteCgroupFile(path, write.value);
    if (absl::IsNotFound(status) && write.skip_if_absent) continue;
    QUILT_RETURN_IF_ERROR(Annotate(status, absl::StrCat("create container cgroup ", id)));
  }
  std::move(remove_created).Cancel();
  return PlacementOf(id);
}

CgroupPlacement CgroupManager::PlacementOf(const std::string& id) const {
  CgroupPlacement placement;
  for (const CgroupHierarchy& hierarchy : impl_->layout().hierarchies) {
    const std::string dir = impl_->Dir(hierarchy, id);
    if (hierarchy.v2) {
      placement.v2_dir = dir;
    } else {
      placement.procs_files.push_back(absl::StrCat(dir, "/cgroup.procs"));
    }
  }
  return placement;
}

bool CgroupManager::SupportsSpares() const {
  const auto& hierarchies = impl_->layout().hierarchies;
  return !hierarchies.empty() && std::none_of(hierarchies.begin(), hierarchies.end(),
                                              [](const CgroupHierarchy& h) { return h.v2; });
}

absl::StatusOr<CgroupPlacement> CgroupManager::CreateSpare(const std::string& name) {
  QUILT_RETURN_IF_ERROR(CheckSpareName(name));
  if (!SupportsSpares()) return absl::FailedPreconditionError("spares need v1 cgroups only");
  CgroupPlacement placement;
  for (const std::string& dir : impl_->AllSpareDirs(name)) {
    if (absl::Status made = MakeCgroupDir(dir); !made.ok()) {
      (void)RemoveSpare(name);
      return made;
    }
    placement.procs_files.push_back(absl::StrCat(dir, "/cgroup.procs"));
  }
  return placement;
}

absl::Status CgroupManager::AdoptSpare(const std::string& name, const std::string& id,
                                       const CgroupLimits& limits) {
  QUILT_RETURN_IF_ERROR(CheckSpareName(name));
  QUILT_RETURN_IF_ERROR(CheckId(id));
  QUILT_ASSIGN_OR_RETURN(std::vector<CgroupFileWrite> writes,
                         PlanLimitWrites(limits, impl_->layout()));
  for (const CgroupHierarchy& hierarchy : impl_->layout().hierarchies) {
    const std::string from = impl_->SpareDir(hierarchy, name);
    const std::string to = impl_->Dir(hierarchy, id);
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(absl::StrCat("rename cgroup ", from, " to ", to));
    }
  }
  for (const CgroupFileWrite& write : writes) {
    std::string path = absl::StrCat(impl_->DirFor(write.controller, id), "/", write.file);
    absl::Status status = WriteCgroupFile(path, write.value);
    if (absl::IsNotFound(status) && write.skip_if_absent) continue;
    QUILT_RETURN_IF_ERROR(Annotate(status, absl::StrCat("adopt cgroup for container ", id)));
  }
  return absl::OkStatus();
}

absl::Status CgroupManager::RemoveSpare(const std::string& name) {
  QUILT_RETURN_IF_ERROR(CheckSpareName(name));
  return RemoveDirs(impl_->AllSpareDirs(name), absl::StrCat("remove spare cgroup ", name));
}

int64_t CgroupManager::OomKills(const std::string& id) const {
  if (!IsValidId(id)) return 0;
  std::string dir = impl_->DirFor(CgroupController::kMemory, id);
  if (dir.empty()) return 0;
  bool v2 = impl_->layout().VersionOf(CgroupController::kMemory) == CgroupVersion::kV2;
  return ReadKeyedOrZero(absl::StrCat(dir, v2 ? "/memory.events" : "/memory.oom_control"),
                         "oom_kill");
}

absl::StatusOr<CgroupStats> CgroupManager::Stats(const std::string& id) const {
  QUILT_RETURN_IF_ERROR(CheckId(id));
  CgroupStats stats;
  absl::Status status = impl_->FillMemoryStats(id, stats);
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat("read cgroup stats: no cgroup for container ", id));
  }
  QUILT_RETURN_IF_ERROR(status);
  impl_->FillCpuStats(id, stats);
  if (std::string dir = impl_->DirFor(CgroupController::kPids, id); !dir.empty()) {
    absl::StatusOr<int64_t> pids = ReadInt(absl::StrCat(dir, "/pids.current"));
    stats.pids_current = pids.ok() ? *pids : 0;
  }
  stats.oom_kills = OomKills(id);
  return stats;
}

absl::StatusOr<std::vector<int>> CgroupManager::Processes(const std::string& id) const {
  QUILT_RETURN_IF_ERROR(CheckId(id));
  // Every hierarchy holds every process of the container; pids and memory always exist.
  std::string dir = impl_->DirFor(CgroupController::kPids, id);
  if (dir.empty()) dir = impl_->DirFor(CgroupController::kMemory, id);
  absl::StatusOr<std::vector<int>> pids = ListCgroupProcesses(dir);
  if (absl::IsNotFound(pids.status())) {
    return absl::NotFoundError(absl::StrCat("list processes: no cgroup for container ", id));
  }
  return pids;
}

std::string CgroupManager::PathMarker(const std::string& id) {
  return absl::StrCat("/", kContainerPrefix, id);
}

absl::Status CgroupManager::RemoveContainer(const std::string& id) {
  QUILT_RETURN_IF_ERROR(CheckId(id));
  return RemoveDirs(impl_->AllDirs(id), absl::StrCat("remove container cgroup ", id));
}

absl::Status CgroupManager::RemoveDirs(const std::vector<std::string>& dirs,
                                       const std::string& context) {
  // The usual case, a container that ended: its cgroups are empty, and one rmdir each
  // removes them (the kernel refuses a cgroup that holds a process or a child cgroup).
  // Only what is left then is walked, its processes killed and its tree removed: that had
  // cost ~15 syscalls per hierarchy on every container's exit.
  std::vector<std::string> left;
  for (const std::string& dir : dirs) {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) left.push_back(dir);
  }
  if (left.empty()) return absl::OkStatus();
  // Never libcgroup's delete: it moves live tasks to the parent, i.e. into quiltd's cgroup.
  QUILT_RETURN_IF_ERROR(Annotate(KillCgroupProcesses(left, kKillTimeout), context));
  for (const std::string& dir : left) {
    QUILT_RETURN_IF_ERROR(Annotate(RemoveCgroupTree(dir, kRemoveTimeout), context));
  }
  return absl::OkStatus();
}

std::vector<std::string> CgroupManager::ListContainers() const {
  std::set<std::string> ids;
  for (const CgroupHierarchy& hierarchy : impl_->layout().hierarchies) {
    for (const std::string& name : ListCgroupChildren(hierarchy.parent_dir)) {
      if (!absl::StartsWith(name, kContainerPrefix)) continue;
      std::string id = name.substr(sizeof(kContainerPrefix) - 1);
      if (IsValidId(id)) ids.insert(std::move(id));
    }
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

}  // namespace quilt
