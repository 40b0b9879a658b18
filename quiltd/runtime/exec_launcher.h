// Spawns `quilt-monitor exec` (quiltd/monitor/exec_helper.h) for one Exec and reads how it
// ended.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace quilt {

// How an exec'd command ended.
struct ExecResult {
  int exit_code = 0;  // its exit status, or 128 + signal
  int signal = 0;     // the signal that killed it, or 0
  bool timed_out = false;
};

// A running exec helper, quiltd's unreaped child.
struct ExecProcess {
  pid_t pid = 0;
  UniqueFd stdout_fd;  // read ends of the command's output, non-blocking
  UniqueFd stderr_fd;
  UniqueFd status_fd;  // the helper's status line, then EOF once it has exited
  UniqueFd lifeline;   // closing it makes the helper kill the command
};

// Spawns `monitor_path exec <init_pid> <timeout_seconds>` with the fds exec_helper.h lists
// and `config_json` as its stdin. `init_pidfd` is duplicated into the helper.
absl::StatusOr<ExecProcess> SpawnExecHelper(const std::string& monitor_path,
                                            const std::string& config_json, int init_pidfd,
                                            pid_t init_pid, int timeout_seconds);

// Parses everything the helper wrote on its status pipe. "error <errno> <message>" becomes
// FAILED_PRECONDITION when the container is gone (ESRCH), else INTERNAL with the message;
// anything else that is not an exit line is INTERNAL.
absl::StatusOr<ExecResult> ParseExecStatus(absl::string_view text);

// Waits for the helper to exit (it is about to, once its status pipe is at EOF).
void ReapExecHelper(pid_t pid);

}  // namespace quilt
