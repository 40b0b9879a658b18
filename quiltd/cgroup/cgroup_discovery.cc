#include "quiltd/cgroup/cgroup_discovery.h"

#include <libcgroup.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "quiltd/cgroup/cgroup_fs.h"

namespace quilt {
namespace {

constexpr char kDaemonLeaf[] = "quiltd-daemon";

absl::Status InitLibcgroup() {
  // cgroup_init re-reads the mount table into global state; a second call while another
  // thread uses libcgroup breaks that thread, so it runs exactly once per process.
  static const int result = cgroup_init();
  if (result != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("initialize libcgroup: error ", result, " (no cgroup mounted?)"));
  }
  return absl::OkStatus();
}

// Mounted controllers as libcgroup sees them. It reports v2 controllers too (at the cgroup2
// mount), but neither the version nor the mounted subtree, which come from mountinfo.
std::vector<std::pair<std::string, std::string>> ListControllerMounts() {
  std::vector<std::pair<std::string, std::string>> mounts;
  void* handle = nullptr;
  cgroup_mount_point info{};
  int ret = cgroup_get_controller_begin(&handle, &info);
  while (ret == 0) {
    mounts.emplace_back(info.name, info.path);
    ret = cgroup_get_controller_next(&handle, &info);
  }
  cgroup_get_controller_end(&handle);
  return mounts;
}

// The cgroups from the hierarchy's mount point down to its parent dir.
std::vector<std::string> ChainToParent(const CgroupHierarchy& hierarchy) {
  std::vector<std::string> chain = {hierarchy.mount_point};
  absl::string_view rest =
      absl::string_view(hierarchy.parent_dir)
          .substr(std::min(hierarchy.mount_point.size(), hierarchy.parent_dir.size()));
  for (absl::string_view part : absl::StrSplit(rest, '/', absl::SkipEmpty())) {
    chain.push_back(absl::StrCat(chain.back(), "/", part));
  }
  return chain;
}

absl::Status EnableControllers(const std::string& dir, const std::vector<std::string>& wanted,
                               bool is_root) {
  QUILT_ASSIGN_OR_RETURN(std::string enabled,
                         ReadCgroupFile(absl::StrCat(dir, "/cgroup.subtree_control")));
  std::vector<int> procs;
  if (!is_root) {
    QUILT_ASSIGN_OR_RETURN(std::string text, ReadCgroupFile(absl::StrCat(dir, "/cgroup.procs")));
    QUILT_ASSIGN_OR_RETURN(procs, ParsePidList(text));
  }
  QUILT_ASSIGN_OR_RETURN(V2SubtreeStep step, PlanV2Subtree(wanted, ParseControllerList(enabled),
                                                           procs, getpid(), is_root));
  if (step.move_self_to_leaf) {
    std::string leaf = absl::StrCat(dir, "/", kDaemonLeaf);
    QUILT_RETURN_IF_ERROR(MakeCgroupDirs(dir, leaf));
    QUILT_RETURN_IF_ERROR(MoveProcess(leaf, getpid()));
    QUILT_LOG(INFO) << "moved quiltd into " << leaf << " to enable controllers in " << dir;
  }
  if (step.subtree_control.empty()) return absl::OkStatus();
  return WriteCgroupFile(absl::StrCat(dir, "/cgroup.subtree_control"), step.subtree_control);
}

}  // namespace

absl::StatusOr<CgroupHostFacts> ReadCgroupHostFacts() {
  QUILT_RETURN_IF_ERROR(InitLibcgroup());
  CgroupHostFacts facts;
  facts.controller_mounts = ListControllerMounts();
  // libcgroup 2.0.2 has no API for a mount's fstype or mounted subtree, nor for the calling
  // process's own cgroup paths, so those come from /proc directly.
  QUILT_ASSIGN_OR_RETURN(std::string mountinfo, ReadCgroupFile("/proc/self/mountinfo"));
  QUILT_ASSIGN_OR_RETURN(facts.mounts, ParseMountinfo(mountinfo));
  QUILT_ASSIGN_OR_RETURN(std::string self, ReadCgroupFile("/proc/self/cgroup"));
  QUILT_ASSIGN_OR_RETURN(facts.self, ParseProcCgroup(self));
  if (const CgroupMountInfo* v2 = FindV2Mount(facts.mounts); v2 != nullptr) {
    absl::StatusOr<std::string> controllers =
        ReadCgroupFile(absl::StrCat(v2->mount_point, "/cgroup.controllers"));
    if (controllers.ok()) facts.v2_root_controllers = ParseControllerList(*controllers);
  }
  return facts;
}

absl::Status PrepareV2Parent(const CgroupHierarchy& hierarchy) {
  QUILT_RETURN_IF_ERROR(MakeCgroupDirs(hierarchy.mount_point, hierarchy.parent_dir));
  std::vector<std::string> wanted;
  for (CgroupController controller : hierarchy.controllers) {
    wanted.emplace_back(ControllerName(controller));
  }
  std::vector<std::string> chain = ChainToParent(hierarchy);
  for (size_t i = 0; i < chain.size(); ++i) {
    bool is_root = i == 0 && hierarchy.mounted_from_root;
    QUILT_RETURN_IF_ERROR(Annotate(EnableControllers(chain[i], wanted, is_root),
                                   absl::StrCat("prepare cgroup parent ", hierarchy.parent_dir)));
  }
  return absl::OkStatus();
}

}  // namespace quilt
