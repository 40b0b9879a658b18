// The only code in Quilt that knows cgroups. One interface over cgroup v2 (unified) and
// v1/hybrid hosts; callers never see which is underneath.
//
// Discovery uses libcgroup (mount points, controller versions). Creating groups, writing
// limits and teardown are direct cgroupfs syscalls: libcgroup 2.0.2 has no v1/v2
// translation, reuses existing groups silently and moves live tasks on delete (see
// docs/cgroups.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quilt {

enum class CgroupMode { kV2, kV1, kHybrid };

struct CgroupLimits {
  int64_t memory_bytes = 0;  // 0: none. Swap limited to the same (no extra swap).
  double cpus = 0;           // 0: none. CFS quota = cpus * period (period 100 ms).
  int64_t pids_max = 0;      // 0: none.
};

// Where a container's init must be placed; passed to the monitor.
struct CgroupPlacement {
  std::vector<std::string> procs_files;  // v1/hybrid: write the pid to each
  std::string v2_dir;                    // v2: clone3(CLONE_INTO_CGROUP) target, or empty
};

struct CgroupStats {
  int64_t memory_current = 0;
  int64_t memory_peak = 0;  // 0 when the kernel does not report it
  int64_t memory_limit = 0;
  int64_t cpu_usage_ns = 0;
  int64_t pids_current = 0;
  int64_t oom_kills = 0;
};

class CgroupManager {
 public:
  // Discovers the host's cgroup layout. `parent` is the cgroup path (relative to each
  // hierarchy's root, e.g. "/quilt") under which containers go; empty means "the cgroup
  // quiltd runs in" (read from /proc/self/cgroup, per hierarchy); a relative path (no
  // leading '/') is taken below the cgroup quiltd runs in. A missing parent is created. On
  // v2, if quiltd itself sits in the parent, it moves itself (only itself) into
  // <parent>/quiltd-daemon so the parent may enable controllers for its children. Must be
  // called before threads start (libcgroup's cgroup_init is not thread-safe).
  static absl::StatusOr<std::unique_ptr<CgroupManager>> Create(const std::string& parent);

  CgroupMode mode() const;
  std::string ModeName() const;  // "v2", "v1" or "hybrid"

  // Creates the container's cgroup (exclusively: ALREADY_EXISTS if present) in every
  // hierarchy needed by `limits` plus memory (for OOM accounting) and pids, writes the
  // limits in the order the kernel needs, and returns where to place the init. Fails with
  // INVALID_ARGUMENT if a limit cannot be applied on this host (controller missing), and
  // then leaves nothing behind.
  absl::StatusOr<CgroupPlacement> CreateContainer(const std::string& id,
                                                  const CgroupLimits& limits);

  // Spares (quiltd/runtime/spare_pool.h) are cgroups made before their container, holding a
  // waiting init, so that starting the container pays no cgroup.procs write: on v1 the first
  // one after an idle moment waits out an RCU grace period (5-25 ms measured). Only where
  // every hierarchy is v1: a v2 cgroup cannot be renamed, and v2 has CLONE_INTO_CGROUP.
  bool SupportsSpares() const;
  // Creates the spare's cgroups (<parent>/quilt-spare-<name>, no limits yet); returns where
  // its init goes.
  absl::StatusOr<CgroupPlacement> CreateSpare(const std::string& name);
  // Where a container's init is placed once its cgroups exist (CreateContainer, AdoptSpare).
  CgroupPlacement PlacementOf(const std::string& id) const;
  // Renames the spare's cgroups to the container's and writes `limits`. On failure the caller
  // removes both (RemoveContainer, RemoveSpare): some may have been renamed.
  absl::Status AdoptSpare(const std::string& name, const std::string& id,
                          const CgroupLimits& limits);
  // Like RemoveContainer, for a spare's cgroups that were not adopted.
  absl::Status RemoveSpare(const std::string& name);

  // Number of OOM kills in the container's cgroup (0 if it does not exist).
  int64_t OomKills(const std::string& id) const;

  // Current usage; NOT_FOUND if the cgroup is gone.
  absl::StatusOr<CgroupStats> Stats(const std::string& id) const;

  // The host pids of the processes in the container's cgroup and the cgroups below it, in no
  // particular order; NOT_FOUND if the cgroup is gone.
  absl::StatusOr<std::vector<int>> Processes(const std::string& id) const;
  // What /proc/<pid>/cgroup of a process in the container's cgroup holds: "/quilt-<id>".
  static std::string PathMarker(const std::string& id);

  // Kills every process left in the container's cgroup (SIGKILL), waits until it is empty
  // (bounded), and removes it in every hierarchy. OK if it does not exist.
  absl::Status RemoveContainer(const std::string& id);

  // Ids of container cgroups that exist under the parent in any hierarchy (to find
  // leftovers after a crash), sorted.
  std::vector<std::string> ListContainers() const;

  // The parent cgroup's absolute directory in each hierarchy used (for diagnostics and
  // tests); container cgroups are <dir>/quilt-<id>.
  std::vector<std::string> ParentDirs() const;

  class Impl;
  ~CgroupManager();

 private:
  explicit CgroupManager(std::unique_ptr<Impl> impl);
  // Kills what is left in `dirs` and removes them (each may be missing).
  absl::Status RemoveDirs(const std::vector<std::string>& dirs, const std::string& context);
  std::unique_ptr<Impl> impl_;
};

}  // namespace quilt
