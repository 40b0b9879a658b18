// Spawns a container's monitor and waits for its start report (monitor_protocol.h).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

struct LaunchedMonitor {
  pid_t pid = 0;
  int64_t start_ticks = 0;
  UniqueFd pidfd;  // readable once the monitor has exited
};

class MonitorLauncher {
 public:
  explicit MonitorLauncher(std::string monitor_path) : monitor_path_(std::move(monitor_path)) {}

  // Writes <config.bundle_dir>/config.json, what the monitor runs.
  static absl::Status WriteConfig(const MonitorConfig& config);

  // Writes config.json into the bundle and spawns `quilt-monitor <bundle>`, which puts
  // itself in its own session. Fails only when the monitor could not be spawned at all.
  // `start_pipe` receives the read end of the monitor's start pipe.
  absl::StatusOr<LaunchedMonitor> Spawn(const MonitorConfig& config, const std::string& monitor_log,
                                        UniqueFd* start_pipe) const;

  // Spawns `quilt-monitor spare <dir> <procs_files>...`; `claim_pipe` receives the write end
  // of its claim pipe.
  absl::StatusOr<LaunchedMonitor> SpawnSpare(const std::string& dir,
                                             const std::vector<std::string>& procs_files,
                                             UniqueFd* start_pipe, UniqueFd* claim_pipe) const;

  // Blocks until the monitor writes its start report; a container that failed to start, or
  // a monitor that died before reporting, comes back as a kFailed report.
  static StartReport AwaitReport(const UniqueFd& start_pipe);

  const std::string& monitor_path() const { return monitor_path_; }

 private:
  // Spawns the monitor with `args` after argv[0]; `claim_end` (if valid) becomes its fd 4.
  absl::StatusOr<LaunchedMonitor> SpawnMonitor(std::vector<std::string> args,
                                               const std::string& monitor_log, UniqueFd* start_pipe,
                                               const UniqueFd& claim_end) const;

  std::string monitor_path_;
};

}  // namespace quilt
