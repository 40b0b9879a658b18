// Prestarted containers ("spares"): a few monitors whose init is already cloned into fresh
// namespaces and placed in its cgroups, waiting for a container (monitor_protocol.h). A
// Start that takes one skips spawning the monitor, the clone and, above all, the v1
// cgroup.procs writes, the first of which after an idle moment waits out an RCU grace period
// (5-25 ms measured, against ~1 ms for everything else). The pool refills on its own thread,
// so that wait is paid while no client is waiting.
//
// A spare serves only containers it fits (Fits): no user namespace, a network namespace,
// stdin only through a terminal, and no bind mounts. Hosts with a v2 hierarchy get no spares
// (CLONE_INTO_CGROUP places a v2 init without that write).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/cgroup/cgroup_manager.h"
#include "quiltd/runtime/monitor_launcher.h"
#include "quiltd/runtime/trash.h"

namespace quilt {

struct Spare {
  std::string name;  // its cgroups are quilt-spare-<name>, its dir <state>/spares/<name>
  LaunchedMonitor monitor;
  UniqueFd start_pipe;  // the ready report was read; the start report comes next
  UniqueFd claim_pipe;  // write end: Claim writes the bundle dir, closing dismisses
};

class SparePool {
 public:
  // Keeps `size` spares ready under `dir` (<state>/spares), after removing what an earlier
  // quiltd left there. nullptr when `size` is 0 or the host's cgroups cannot have spares.
  static absl::StatusOr<std::unique_ptr<SparePool>> Start(int size, std::string dir,
                                                          CgroupManager* cgroups,
                                                          const MonitorLauncher* launcher,
                                                          Trash* trash);
  // Dismisses every spare and waits for them to end.
  ~SparePool();
  SparePool(const SparePool&) = delete;
  SparePool& operator=(const SparePool&) = delete;

  // Whether a container of `spec` (as created: userns resolved) can start on a spare.
  static bool Fits(const v1::ContainerSpec& spec);

  // A ready spare, or nothing when none is (the caller starts a monitor itself). Its
  // replacement is made once the caller calls Replenish or Dismiss.
  std::optional<Spare> Take();

  // Lets the pool replace a taken spare, once the spare's container runs (or failed).
  void Replenish();

  // Hands the spare its container: `bundle_dir` must hold the container's config.json and
  // the spare's cgroups must be the container's (CgroupManager::AdoptSpare). The spare is
  // the container's monitor from then on. On failure the spare ends by itself (its claim
  // pipe is closed either way), and with it the start.
  absl::Status Claim(Spare& spare, const std::string& bundle_dir);

  // Gives back a taken spare that will not be claimed; it is ended, cleaned up and replaced.
  void Dismiss(Spare spare);

 private:
  SparePool(int size, std::string dir, CgroupManager* cgroups, const MonitorLauncher* launcher,
            Trash* trash);
  std::string DirOf(const std::string& name) const { return dir_ + "/" + name; }
  bool HasWork() const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void Fill();
  absl::StatusOr<Spare> Make();
  // Waits for a dismissed spare's monitor (which ends itself once its claim pipe closes),
  // then removes its cgroups and dir.
  void Reap(Spare spare);
  void RemoveLeftovers();

  const int size_;
  const std::string dir_;
  CgroupManager* const cgroups_;
  const MonitorLauncher* const launcher_;
  Trash* const trash_;

  absl::Mutex mu_;
  std::deque<Spare> ready_ ABSL_GUARDED_BY(mu_);
  std::vector<Spare> dismissed_ ABSL_GUARDED_BY(mu_);
  int taken_ ABSL_GUARDED_BY(mu_) = 0;        // taken and not yet replenished or dismissed
  absl::Time last_use_ ABSL_GUARDED_BY(mu_);  // the last Take or Replenish
  int failures_ ABSL_GUARDED_BY(mu_) = 0;     // consecutive failures to make a spare
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread filler_;
};

}  // namespace quilt
