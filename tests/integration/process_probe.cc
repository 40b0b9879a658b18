#include "tests/integration/process_probe.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace quilt::testing {
namespace {

std::string ReadProc(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The value after "<key>:" in /proc/<pid>/status, or -1.
int64_t StatusField(pid_t pid, const std::string& key) {
  std::istringstream in(ReadProc(absl::StrCat("/proc/", pid, "/status")));
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, key + ":")) continue;
    return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* d = opendir("/proc");
  if (d == nullptr) return pids;
  while (dirent* e = readdir(d)) {
    int pid = 0;
    if (absl::SimpleAtoi(e->d_name, &pid)) pids.push_back(pid);
  }
  closedir(d);
  return pids;
}

}  // namespace

int CountFds(pid_t pid) {
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/fd").c_str());
  if (d == nullptr) return -1;
  int count = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++count;
  }
  closedir(d);
  return count;
}

int CountThreads(pid_t pid) { return static_cast<int>(StatusField(pid, "Threads")); }

int64_t RssKib(pid_t pid) { return StatusField(pid, "VmRSS"); }

pid_t ParentOf(pid_t pid) {
  // The comm field may hold spaces and parentheses: the ppid is the second field after
  // the last ')'.
  const std::string stat = ReadProc(absl::StrCat("/proc/", pid, "/stat"));
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 1));
  std::string state;
  pid_t ppid = -1;
  fields >> state >> ppid;
  return ppid;
}

std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  for (pid_t p : AllPids()) {
    if (ParentOf(p) == pid) children.push_back(p);
  }
  return children;
}

std::vector<pid_t> ProcessesMentioning(const std::string& text, pid_t except) {
  std::vector<pid_t> found;
  for (pid_t p : AllPids()) {
    if (p == except) continue;
    std::string cmdline = ReadProc(absl::StrCat("/proc/", p, "/cmdline"));
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (absl::StrContains(cmdline, text)) found.push_back(p);
  }
  return found;
}

bool IsSpare(pid_t pid) {
  const std::string prefix("quilt-monitor\0spare\0", 20);
  return absl::StartsWith(ReadProc(absl::StrCat("/proc/", pid, "/cmdline")), prefix);
}

bool ProcessExists(pid_t pid) { return access(absl::StrCat("/proc/", pid).c_str(), F_OK) == 0; }

void ReapExitedChildren(pid_t keep) {
  for (pid_t child : ChildrenOf(getpid())) {
    if (child == keep) continue;
    siginfo_t info{};
    waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOHANG);
  }
}

}  // namespace quilt::testing
