#include "quiltd/runtime/process_table.h"

#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/fs.h"
#include "common/process.h"

namespace quilt {
namespace {

int64_t StatNumber(absl::string_view stat, size_t n) {
  int64_t value = 0;
  const std::optional<absl::string_view> field = ProcStatField(stat, n);
  return field.has_value() && absl::SimpleAtoi(*field, &value) ? value : 0;
}

// The tab-separated values of the "<key>:" line of /proc/<pid>/status.
std::vector<absl::string_view> StatusValues(absl::string_view status, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, key) && absl::ConsumePrefix(&line, ":")) {
      return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    }
  }
  return {};
}

// Whether a line of /proc/<pid>/cgroup names `marker` as a whole path component (so that
// "/quilt-ab" does not match "/quilt-abc").
bool NamesCgroup(absl::string_view cgroup, absl::string_view marker) {
  for (size_t at = cgroup.find(marker); at != absl::string_view::npos;
       at = cgroup.find(marker, at + 1)) {
    const size_t end = at + marker.size();
    if (end == cgroup.size() || cgroup[end] == '/' || cgroup[end] == '\n') return true;
  }
  return false;
}

std::optional<ProcessInfo> Describe(int host_pid, const std::string& marker,
                                    const std::string& proc_root) {
  const std::string dir = absl::StrCat(proc_root, "/", host_pid);
  absl::StatusOr<std::string> stat = ReadFile(dir + "/stat");
  absl::StatusOr<std::string> status = ReadFile(dir + "/status");
  absl::StatusOr<std::string> cmdline = ReadFile(dir + "/cmdline");
  if (!stat.ok() || !status.ok() || !cmdline.ok()) return std::nullopt;
  absl::StatusOr<std::string> cgroup = ReadFile(dir + "/cgroup");
  if (!cgroup.ok() || !NamesCgroup(*cgroup, marker)) return std::nullopt;

  ProcessInfo info;
  info.host_pid = host_pid;
  const std::vector<absl::string_view> ns_pids = StatusValues(*status, "NSpid");
  if (ns_pids.empty() || !absl::SimpleAtoi(ns_pids.back(), &info.pid)) info.pid = host_pid;
  const std::vector<absl::string_view> uids = StatusValues(*status, "Uid");
  if (!uids.empty()) (void)absl::SimpleAtoi(uids.front(), &info.uid);
  const size_t open = stat->find('(');
  const size_t close = stat->rfind(')');
  if (open != std::string::npos && close != std::string::npos && open < close) {
    info.name = stat->substr(open + 1, close - open - 1);
  }
  if (const std::optional<absl::string_view> state = ProcStatField(*stat, 3); state.has_value()) {
    info.state = state->empty() ? '?' : state->front();
  }
  info.host_ppid = static_cast<int>(StatNumber(*stat, 4));
  static const int64_t ticks = sysconf(_SC_CLK_TCK);
  static const int64_t page = sysconf(_SC_PAGESIZE);
  info.cpu_ns = (StatNumber(*stat, 14) + StatNumber(*stat, 15)) * (1'000'000'000 / ticks);
  info.rss_bytes = StatNumber(*stat, 24) * page;
  // Each argument ends in a NUL; a process that rewrote its command line in place (as
  // setproctitle does) pads it with more.
  while (!cmdline->empty() && cmdline->back() == '\0') cmdline->pop_back();
  if (!cmdline->empty()) info.argv = absl::StrSplit(*cmdline, '\0');
  return info;
}

}  // namespace

std::vector<ProcessInfo> DescribeProcesses(const std::vector<int>& host_pids,
                                           const std::string& cgroup_marker,
                                           const std::string& proc_root) {
  std::vector<ProcessInfo> processes;
  for (int pid : host_pids) {
    if (std::optional<ProcessInfo> info = Describe(pid, cgroup_marker, proc_root)) {
      processes.push_back(*std::move(info));
    }
  }
  absl::flat_hash_map<int, int> ns_pid_of;
  for (const ProcessInfo& p : processes) ns_pid_of[p.host_pid] = p.pid;
  for (ProcessInfo& p : processes) {
    auto parent = ns_pid_of.find(p.host_ppid);
    p.ppid = parent == ns_pid_of.end() ? 0 : parent->second;
  }
  std::sort(processes.begin(), processes.end(),
            [](const ProcessInfo& a, const ProcessInfo& b) { return a.pid < b.pid; });
  return processes;
}

}  // namespace quilt
