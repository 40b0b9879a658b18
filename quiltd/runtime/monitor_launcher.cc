#include "quiltd/runtime/monitor_launcher.h"

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/spawn_fds.h"
#include "common/status_macros.h"

extern char** environ;

namespace quilt {

// EOF or a short read means the monitor died before reporting.
StartReport MonitorLauncher::AwaitReport(const UniqueFd& start_pipe) {
  const int fd = start_pipe.get();
  StartReport report;
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&report);
  while (got < sizeof(report)) {
    ssize_t n = ::read(fd, bytes + got, sizeof(report) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != sizeof(report)) {
    report = StartReport{};
    report.kind = StartReport::kFailed;
    report.stage = static_cast<int32_t>(StartStage::kNone);
    std::snprintf(report.detail, sizeof(report.detail), "monitor exited without reporting");
  }
  report.detail[sizeof(report.detail) - 1] = '\0';
  return report;
}

absl::Status MonitorLauncher::WriteConfig(const MonitorConfig& config) {
  // Read by the monitor right away and again only by a restarted quiltd's recovery. After a
  // machine crash no container runs any more, so an fsync here would buy nothing.
  return WriteFileAtomically(config.bundle_dir + "/config.json", SerializeMonitorConfig(config),
                             Durability::kProcessCrash);
}

absl::StatusOr<LaunchedMonitor> MonitorLauncher::Spawn(const MonitorConfig& config,
                                                       const std::string& monitor_log,
                                                       UniqueFd* start_pipe) const {
  QUILT_RETURN_IF_ERROR(WriteConfig(config));
  return SpawnMonitor({config.bundle_dir}, monitor_log, start_pipe, UniqueFd());
}

absl::StatusOr<LaunchedMonitor> MonitorLauncher::SpawnSpare(
    const std::string& dir, const std::vector<std::string>& procs_files, UniqueFd* start_pipe,
    UniqueFd* claim_pipe) const {
  int claim_fds[2];
  if (::pipe2(claim_fds, O_CLOEXEC) != 0) return ErrnoStatus("create claim pipe");
  UniqueFd claim_read(claim_fds[0]);
  UniqueFd claim_write(claim_fds[1]);
  std::vector<std::string> args = {"spare", dir};
  args.insert(args.end(), procs_files.begin(), procs_files.end());
  QUILT_ASSIGN_OR_RETURN(
      LaunchedMonitor launched,
      SpawnMonitor(std::move(args), dir + "/monitor.log", start_pipe, claim_read));
  *claim_pipe = std::move(claim_write);
  return launched;
}

absl::StatusOr<LaunchedMonitor> MonitorLauncher::SpawnMonitor(std::vector<std::string> args,
                                                              const std::string& monitor_log,
                                                              UniqueFd* start_pipe,
                                                              const UniqueFd& claim_end) const {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus("create start pipe");
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  UniqueFd log(::open(monitor_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log) return ErrnoStatus(absl::StrCat("open ", monitor_log));
  // posix_spawn (vfork-style in glibc) is safe from a multi-threaded daemon. Only the placed
  // fds reach the monitor: stdin /dev/null, the log as stdout and stderr, 3 and 4.
  std::vector<std::pair<int, int>> placements = {
      {log.get(), 1}, {log.get(), 2}, {write_end.get(), 3}};
  if (claim_end.valid()) placements.emplace_back(claim_end.get(), 4);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::vector<UniqueFd> copies;
  if (absl::Status placed = AddFdPlacements(&actions, placements, &copies); !placed.ok()) {
    posix_spawn_file_actions_destroy(&actions);
    return placed;
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The monitor must not inherit quiltd's blocked signal mask (quiltd blocks SIGTERM/SIGINT
  // for its signal-waiting thread) or default handlers we changed.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  args.insert(args.begin(), "quilt-monitor");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, monitor_path_.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoStatus(err, absl::StrCat("spawn monitor ", monitor_path_));
  write_end.Reset();

  LaunchedMonitor launched;
  launched.pid = pid;
  // The monitor is our unreaped child, so its pid cannot be reused before we wait for it.
  QUILT_ASSIGN_OR_RETURN(launched.pidfd, OpenPidfd(pid));
  launched.start_ticks = ProcessStartTicks(pid).value_or(0);
  *start_pipe = std::move(read_end);
  return launched;
}

}  // namespace quilt
