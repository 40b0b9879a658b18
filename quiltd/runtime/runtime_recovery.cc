// Start-up reconciliation: make the store agree with what survived a crash of quiltd.
#include <dirent.h>
#include <unistd.h>

#include <cerrno>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/validation.h"
#include "quiltd/runtime/bundle.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

void Runtime::Recover() {
  absl::StatusOr<std::vector<ContainerRecord>> records = store_->List();
  if (!records.ok()) {
    QUILT_LOG(ERROR) << "recover: " << records.status();
    return;
  }
  for (ContainerRecord& record : *records) RecoverContainer(std::move(record));
  RemoveOrphans();
}

// A container whose monitor was spawned is adopted if the monitor still runs (same pid and
// start time), and finished from its exit file otherwise. One never started needs nothing.
void Runtime::RecoverContainer(ContainerRecord record) {
  const Bundle bundle(ContainersDir(), record.id);
  if (::access(bundle.dir.c_str(), F_OK) != 0 && errno == ENOENT) {
    // Create makes the bundle before the row and Remove deletes it before the row, so this
    // is a Remove that a crash interrupted: finish it.
    QUILT_LOG(INFO) << "finishing the removal of container " << record.id;
    if (absl::Status s = cgroups_->RemoveContainer(record.id); !s.ok()) QUILT_LOG(WARNING) << s;
    if (absl::Status s = store_->Delete(record.id); !s.ok()) QUILT_LOG(ERROR) << s;
    return;
  }
  const bool spawned = record.state == ContainerState::kRunning ||
                       (record.state == ContainerState::kCreated && record.monitor_pid != 0);
  if (!spawned) {
    if (record.state != ContainerState::kCreated) (void)cgroups_->RemoveContainer(record.id);
    if (record.state == ContainerState::kCreated && ::access(bundle.config().c_str(), F_OK) == 0) {
      FailInterruptedStart(std::move(record));
    }
    return;
  }
  absl::StatusOr<UniqueFd> monitor =
      OpenPidfdIfSame(record.monitor_pid, record.monitor_start_ticks);
  if (!monitor.ok()) {
    OnMonitorExit(record.id);
    return;
  }
  if (record.state == ContainerState::kCreated) {
    // quiltd died while waiting for the start report. If the workload runs, state.json says
    // so; if setup is still going on, it becomes RUNNING now and its end is recorded later.
    absl::StatusOr<std::string> text = ReadFile(bundle.state());
    absl::StatusOr<MonitorState> state =
        text.ok() ? ParseMonitorState(*text) : absl::StatusOr<MonitorState>(text.status());
    record.state = ContainerState::kRunning;
    record.init_pid = state.ok() ? state->init_pid : 0;
    record.init_start_ticks = state.ok() ? ProcessStartTicks(state->init_pid).value_or(0) : 0;
    record.started_at_ns = state.ok() ? state->started_at_ns : absl::GetCurrentTimeNanos();
    if (absl::Status s = store_->Update(record); !s.ok()) QUILT_LOG(ERROR) << s;
  }
  if (absl::Status s = WatchMonitor(record.id, std::move(*monitor)); !s.ok()) {
    QUILT_LOG(ERROR) << "adopt container " << record.id << ": " << s;
    return;
  }
  QUILT_LOG(INFO) << "adopted running container " << record.id;
}

// Start writes config.json and then spawns the monitor before it records the monitor's
// pid: a crash in between may have left a monitor nobody knows. Emptying the cgroup ends
// its init, after which it records the exit and ends by itself (one that had not joined
// the cgroup yet fails to); the container is failed rather than started twice.
void Runtime::FailInterruptedStart(ContainerRecord record) {
  QUILT_LOG(WARNING) << "container " << record.id << ": quiltd stopped while starting it";
  if (absl::Status s = cgroups_->RemoveContainer(record.id); !s.ok()) QUILT_LOG(WARNING) << s;
  record =
      MarkFailed(std::move(record), "StartFailed", "quiltd stopped while starting the container");
  if (absl::Status s = store_->Update(record); !s.ok()) QUILT_LOG(ERROR) << s;
}

// A bundle with no row is what a crash between steps left behind (Create writes the bundle
// before the row; Remove deletes the row last). Its cgroup goes too. Only cgroups whose
// bundle is in our state dir are touched: another daemon may share the cgroup parent.
void Runtime::RemoveOrphans() {
  absl::StatusOr<std::vector<ContainerRecord>> records = store_->List();
  if (!records.ok()) return;
  absl::flat_hash_set<std::string> known;
  for (const ContainerRecord& r : *records) known.insert(r.id);

  const std::string dir = ContainersDir();
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> orphans;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (IsValidId(name) && !known.contains(name)) orphans.push_back(name);
  }
  ::closedir(d);
  for (const std::string& id : orphans) {
    QUILT_LOG(INFO) << "removing leftovers of unknown container " << id;
    if (absl::Status s = cgroups_->RemoveContainer(id); !s.ok()) QUILT_LOG(WARNING) << s;
    if (absl::Status s = RemoveTree(Bundle(dir, id).dir); !s.ok()) QUILT_LOG(WARNING) << s;
  }
}

}  // namespace quilt
