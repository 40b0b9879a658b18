// Start-up reconciliation: make the store agree with what survived a crash of quiltd.
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/validation.h"
#include "quiltd/runtime/bundle.h"
#include "quiltd/runtime/container_events.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {
namespace {

// The pid of a live `quilt-monitor <bundle_dir>` (its argv, as MonitorLauncher spawns it, or
// as a claimed spare rewrites its own, zero-padded), or 0.
pid_t FindMonitorOf(const std::string& bundle_dir) {
  const std::string cmdline = std::string("quilt-monitor") + '\0' + bundle_dir + '\0';
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  pid_t found = 0;
  while (dirent* e = ::readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    absl::StatusOr<std::string> text = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
    if (text.ok() && absl::StartsWith(*text, cmdline) &&
        text->find_first_not_of('\0', cmdline.size()) == std::string::npos) {
      found = pid;
      break;
    }
  }
  ::closedir(proc);
  return found;
}

// Kills a monitor still running in an orphaned bundle and waits for it: it would otherwise
// go on writing the log and exit.json into the bundle while it is being removed (its init
// dies with it, by PDEATHSIG).
void StopMonitorOf(const std::string& bundle_dir) {
  const pid_t pid = FindMonitorOf(bundle_dir);
  if (pid <= 0) return;
  const int64_t ticks = ProcessStartTicks(pid).value_or(0);
  absl::StatusOr<UniqueFd> pidfd = OpenPidfdIfSame(pid, ticks);
  if (!pidfd.ok()) return;
  (void)SignalPidfd(pidfd->get(), SIGKILL);
  if (!AwaitExitAndReap(pid, ticks, 5000)) {
    QUILT_LOG(WARNING) << "monitor " << pid << " of " << bundle_dir << " survived SIGKILL";
  }
}

}  // namespace

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
    if (absl::Status s = store_->Delete(record.id, {ContainerEvent(EventType::kRemoved, record)});
        !s.ok()) {
      QUILT_LOG(ERROR) << s;
    }
    return;
  }
  if (record.state == ContainerState::kCreated && record.monitor_pid == 0 &&
      ::access(bundle.config().c_str(), F_OK) == 0) {
    RecoverInterruptedStart(std::move(record));
    return;
  }
  const bool spawned = record.state == ContainerState::kRunning ||
                       (record.state == ContainerState::kCreated && record.monitor_pid != 0);
  if (!spawned) {
    if (record.state != ContainerState::kCreated) (void)cgroups_->RemoveContainer(record.id);
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
    if (absl::Status s = store_->Update(record, {StartedEvent(record)}); !s.ok()) {
      QUILT_LOG(ERROR) << s;
    }
  }
  if (absl::Status s = WatchMonitor(record.id, std::move(*monitor)); !s.ok()) {
    QUILT_LOG(ERROR) << "adopt container " << record.id << ": " << s;
    return;
  }
  QUILT_LOG(INFO) << "adopted running container " << record.id;
}

// Start writes config.json, spawns the monitor and only then records the monitor's pid: a
// crash in between leaves a monitor nobody knows. It is found by its command line and
// adopted; one that already ended left its exit file; with neither, the monitor never ran
// and the container is CREATED again, as the store says.
void Runtime::RecoverInterruptedStart(ContainerRecord record) {
  const Bundle bundle(ContainersDir(), record.id);
  if (const pid_t pid = FindMonitorOf(bundle.dir); pid > 0) {
    QUILT_LOG(INFO) << "container " << record.id << ": found the monitor of an interrupted start";
    record.monitor_pid = pid;
    record.monitor_start_ticks = ProcessStartTicks(pid).value_or(0);
    if (absl::Status s = store_->Update(record); !s.ok()) QUILT_LOG(ERROR) << s;
    RecoverContainer(std::move(record));
    return;
  }
  if (::access(bundle.exit().c_str(), F_OK) == 0) {
    OnMonitorExit(record.id);
    return;
  }
  // Start made the cgroup before spawning; a later Start creates it afresh.
  if (absl::Status s = cgroups_->RemoveContainer(record.id); !s.ok()) QUILT_LOG(WARNING) << s;
  ::unlink(bundle.config().c_str());
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
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir);
  if (!names.ok()) {
    QUILT_LOG(ERROR) << "recover: " << names.status();
    return;
  }
  for (const std::string& id : *names) {
    if (!IsValidId(id) || known.contains(id)) continue;
    QUILT_LOG(INFO) << "removing leftovers of unknown container " << id;
    const Bundle bundle(dir, id);
    StopMonitorOf(bundle.dir);
    if (absl::Status s = cgroups_->RemoveContainer(id); !s.ok()) QUILT_LOG(WARNING) << s;
    if (absl::Status s = trash_->Discard(bundle.dir); !s.ok()) QUILT_LOG(WARNING) << s;
  }
}

}  // namespace quilt
