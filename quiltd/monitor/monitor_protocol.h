// The contract between quiltd and a monitor.
//
// Spawn: quiltd runs `quilt-monitor <bundle_dir>` with fd 3 the write end of a CLOEXEC pipe
// (the "start pipe") and stdin/stdout/stderr on /dev/null (or <bundle>/monitor.log for the
// monitor's own diagnostics). The monitor calls setsid() so it outlives quiltd.
//
// Start report: the monitor writes exactly one StartReport to fd 3 and closes it:
//   - kind kRunning once the workload has been exec'd (setup commands all succeeded);
//   - kFailed when any step failed before that (sandbox setup, a setup command, the exec of
//     the workload). Then the monitor also writes the exit file and exits.
// EOF on fd 3 without a report means the monitor died; quiltd treats it as kFailed.
//
// Spares: quiltd may also run `quilt-monitor spare <spare_dir> <cgroup.procs>...` ahead of
// any container, with fd 4 the read end of a "claim pipe" and its diagnostics going to
// <spare_dir>/monitor.log. The spare clones its init into fresh namespaces (with a network
// namespace, without a user namespace), writes it to those cgroups and reports kReady on fd 3. To
// claim it, quiltd renames those cgroups to the container's, writes the container's config.json and
// writes "<bundle_dir>\0" to the claim pipe (one write); from then on the spare is the container's
// monitor as above, and its next report is the start report. EOF on the claim pipe dismisses the
// spare: it kills its init, removes its cgroups and exits. A spare's init mounts its
// container's /proc, /dev and /sys ahead on <spare_dir>/../.stage (kSpareStageDirName), in
// its own mount namespace only; quiltd leaves that directory alone.
//
// Files in the bundle, each written to a temp name and renamed, so readers see all or nothing:
//   state.json  MonitorState: written right before the kRunning report.
//   exit.json   MonitorExit: written after the init exited and the log pipes reached EOF,
//               so once it exists the log file is complete.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace quilt {

// The directory beside the spares' own where their inits stage kernel file systems.
inline constexpr char kSpareStageDirName[] = ".stage";

// Where a failure happened, for messages like "mount /proc: Permission denied".
enum class StartStage : int32_t {
  kNone = 0,
  kConfig = 1,          // reading config.json
  kPipes = 2,           // creating log pipes / opening the log
  kClone = 3,           // clone3 of the init
  kCgroup = 4,          // joining the cgroup
  kMounts = 5,          // overlay, /proc, /dev, /sys, binds, read-only remounts
  kPivotRoot = 6,       // pivot_root and detaching the old root
  kIdentity = 7,        // hostname, network loopback
  kSetup = 8,           // a setup command failed (setup_index, exit_code set)
  kExec = 9,            // exec of the workload (working dir, user, argv[0] not found)
  kSecurity = 10,       // building the seccomp filter, reading the kernel's capability range
  kUserNamespace = 11,  // id maps, the id-mapped rootfs, becoming root in the namespace
};

struct StartReport {
  // kReady: a spare's init is cloned and in its cgroups, waiting for a claim (init_pid set).
  enum Kind : int32_t { kRunning = 1, kFailed = 2, kReady = 3 };
  int32_t kind = 0;
  int32_t stage = 0;         // StartStage when kFailed
  int32_t error = 0;         // errno when a syscall failed, else 0
  int32_t init_pid = 0;      // host pid of the container init (kRunning)
  int32_t setup_index = -1;  // which setup command failed (stage kSetup)
  int32_t exit_code = 0;     // its exit code, or 128+signal
  char detail[256] = {};     // NUL-terminated: the path, command or step that failed
};
static_assert(sizeof(StartReport) == 24 + 256);

// state.json
struct MonitorState {
  pid_t monitor_pid = 0;
  pid_t init_pid = 0;
  int64_t started_at_ns = 0;  // CLOCK_REALTIME when the workload was exec'd
};

// exit.json
struct MonitorExit {
  // "Exited" (the workload exited or was killed by a signal), "SetupFailed" (a setup command
  // failed; exit_code is its code), "StartFailed" (sandbox setup or exec failed).
  std::string reason;
  std::string message;    // e.g. "setup command 2 (apt-get install x) exited with code 100"
  int32_t exit_code = 0;  // exit status, or 128+signal when killed by a signal
  int32_t signal = 0;     // the signal that killed the workload, or 0
  int64_t finished_at_ns = 0;
};

// Human-readable message for a failed StartReport, e.g. "mounts: mount /proc: Permission denied".
std::string DescribeStartFailure(const StartReport& report);

std::string SerializeMonitorState(const MonitorState& state);
absl::StatusOr<MonitorState> ParseMonitorState(const std::string& json_text);
std::string SerializeMonitorExit(const MonitorExit& exit);
absl::StatusOr<MonitorExit> ParseMonitorExit(const std::string& json_text);

}  // namespace quilt
