// What Top reports of a container's processes, read from /proc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quilt {

struct ProcessInfo {
  int host_pid = 0;
  int pid = 0;        // in the innermost pid namespace (the container's)
  int host_ppid = 0;  // the parent, on the host
  int ppid = 0;       // the parent in the container's pid namespace; 0 when it is not listed
  uint32_t uid = 0;   // real uid, on the host
  char state = '?';
  int64_t rss_bytes = 0;
  int64_t cpu_ns = 0;  // user + system
  std::vector<std::string> argv;
  std::string name;  // comm
};

// Reads /proc/<pid> for each of `host_pids` (under `proc_root`). A process is left out when
// it exits meanwhile, or when its /proc/<pid>/cgroup, read last, no longer names
// `cgroup_marker` (the pid was reused by a process outside the container). Sorted by pid,
// with ppid resolved among the processes listed.
std::vector<ProcessInfo> DescribeProcesses(const std::vector<int>& host_pids,
                                           const std::string& cgroup_marker,
                                           const std::string& proc_root = "/proc");

}  // namespace quilt
