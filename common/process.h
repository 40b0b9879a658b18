// Process helpers over pidfds and /proc, used to track processes quiltd did not necessarily
// start itself (monitors adopted after a restart).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace quilt {

// Field n (1-based, as proc(5) counts; from 3 on) of a /proc/<pid>/stat line. The command
// name in field 2 may hold spaces and parentheses, so fields are counted from after its last
// ')'. nullopt when the line is cut short or has no name.
std::optional<absl::string_view> ProcStatField(absl::string_view stat, size_t n);

// The process's start time in clock ticks since boot (/proc/<pid>/stat field 22). Together
// with the pid it names one process for the life of the machine (pids are reused, this
// pair is not). NOT_FOUND when the process does not exist.
absl::StatusOr<int64_t> ProcessStartTicks(pid_t pid);

// A pidfd for `pid` (CLOEXEC). NOT_FOUND when the process does not exist.
absl::StatusOr<UniqueFd> OpenPidfd(pid_t pid);

// A pidfd for `pid` only if it is still the process that started at `start_ticks`.
// NOT_FOUND otherwise (gone, or the pid now belongs to another process).
absl::StatusOr<UniqueFd> OpenPidfdIfSame(pid_t pid, int64_t start_ticks);

// Sends `signal` through a pidfd. NOT_FOUND when the process has exited.
absl::Status SignalPidfd(int pidfd, int signal);

// Waits up to `timeout_ms` for the process (pid, start_ticks) to exit and then reaps it if
// it is our child (quiltd is a child subreaper, so a container init whose monitor died is
// reparented to it and would stay a zombie). Returns true once the process is gone.
bool AwaitExitAndReap(pid_t pid, int64_t start_ticks, int timeout_ms);

}  // namespace quilt
