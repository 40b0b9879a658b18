// Pure parsers for the text the kernel exposes about cgroups: /proc/<pid>/cgroup,
// /proc/<pid>/mountinfo and the "key value" files of cgroupfs (memory.events, cpu.stat,
// memory.oom_control). No I/O here, so every format is unit-tested without root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quilt {

// One line of /proc/<pid>/cgroup: "hierarchy-id:controller-list:path".
struct ProcCgroupEntry {
  int hierarchy_id = 0;
  std::vector<std::string> controllers;  // empty for the v2 entry ("0::/path")
  std::string path;                      // absolute within the hierarchy
};

// Parses the whole /proc/<pid>/cgroup text. Named v1 hierarchies ("name=systemd") keep their
// "name=..." entry. Fails with INVALID_ARGUMENT on a malformed line.
absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(absl::string_view text);

// A cgroup filesystem mount from /proc/<pid>/mountinfo.
struct CgroupMountInfo {
  std::string root;         // the subtree of the hierarchy that is mounted, usually "/"
  std::string mount_point;  // octal escapes (\040) decoded
  bool v2 = false;          // fstype cgroup2 (else cgroup, i.e. v1)
  std::vector<std::string> super_options;  // v1: includes the controller names
};

// Returns the cgroup and cgroup2 mounts listed in a mountinfo text, in order; other
// filesystems are skipped. Fails with INVALID_ARGUMENT on a malformed line.
absl::StatusOr<std::vector<CgroupMountInfo>> ParseMountinfo(absl::string_view text);

// Returns the value of `key` in a flat-keyed file ("key value" per line), as in
// memory.events ("oom_kill 3"), cpu.stat ("usage_usec 123") or memory.oom_control; nullopt
// when the key is absent or its value is not an integer.
std::optional<int64_t> FindKeyedValue(absl::string_view text, absl::string_view key);

// Parses a single integer cgroupfs value ("123\n"). "max" (v2 for "no limit") parses as 0.
absl::StatusOr<int64_t> ParseCgroupInt(absl::string_view text);

// Parses cgroup.procs (one pid per line). Fails with INVALID_ARGUMENT on a non-number.
absl::StatusOr<std::vector<int>> ParsePidList(absl::string_view text);

// Splits a whitespace separated controller list (cgroup.controllers, cgroup.subtree_control).
std::vector<std::string> ParseControllerList(absl::string_view text);

}  // namespace quilt
