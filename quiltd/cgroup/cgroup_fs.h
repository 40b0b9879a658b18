// Direct cgroupfs operations: exclusive creation, limit writes, reading values, and verified
// teardown. These are plain syscalls (no libcgroup), so they are thread-safe and cheap.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace quilt {

// Reads a whole cgroupfs file. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadCgroupFile(const std::string& path);

// Writes `value` to a cgroupfs file in one write(2) (cgroupfs parses each write alone).
// NOT_FOUND when the file does not exist; the kernel's errno otherwise.
absl::Status WriteCgroupFile(const std::string& path, absl::string_view value);

// Creates one cgroup directory; ALREADY_EXISTS if it is there (never reuses a group).
absl::Status MakeCgroupDir(const std::string& path);

// Creates `path` and any missing ancestors below `base` (which must exist); existing
// directories are fine.
absl::Status MakeCgroupDirs(const std::string& base, const std::string& path);

// Moves process `pid` (all its threads) into the cgroup at `dir` via cgroup.procs.
absl::Status MoveProcess(const std::string& dir, int pid);

// SIGKILLs every process in each cgroup of `dirs` and in their child cgroups, repeating until
// all are empty or `timeout` passes (DEADLINE_EXCEEDED). Missing directories count as empty.
absl::Status KillCgroupProcesses(const std::vector<std::string>& dirs, absl::Duration timeout);

// Removes the cgroup at `dir` and its child cgroups, deepest first. OK if `dir` is absent.
// Retries EBUSY (exiting tasks still being released) until `timeout`.
absl::Status RemoveCgroupTree(const std::string& dir, absl::Duration timeout);

// Names of the subdirectories of `dir` (child cgroups). Empty if `dir` does not exist.
std::vector<std::string> ListCgroupChildren(const std::string& dir);

// The pids in the cgroup `dir` and every cgroup below it. NOT_FOUND when `dir` is missing.
absl::StatusOr<std::vector<int>> ListCgroupProcesses(const std::string& dir);

}  // namespace quilt
