#include "quiltd/cgroup/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "quiltd/cgroup/cgroup_parse.h"

namespace quilt {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(10);

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so its wrappers do not link
// from C++; call the syscalls directly.
int PidfdOpen(int pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int PidfdKill(int pidfd) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0));
}

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};

// `dir` and every cgroup below it, parents before children.
std::vector<std::string> CgroupSubtree(const std::string& dir) {
  std::vector<std::string> all = {dir};
  for (size_t i = 0; i < all.size(); ++i) {
    for (const std::string& child : ListCgroupChildren(all[i])) {
      all.push_back(absl::StrCat(all[i], "/", child));
    }
  }
  return all;
}

absl::StatusOr<std::vector<int>> ReadProcs(const std::string& dir) {
  absl::StatusOr<std::string> text = ReadCgroupFile(absl::StrCat(dir, "/cgroup.procs"));
  if (absl::IsNotFound(text.status())) return std::vector<int>();
  if (!text.ok()) return text.status();
  return ParsePidList(*text);
}

// Signals the processes listed in `dir` through pidfds. A pidfd pins its pid number, so a pid
// still listed in cgroup.procs after the pidfd was opened is that very process: a pid that
// exited and was reused by a process outside the container is never signalled.
absl::Status KillListed(const std::string& dir, const std::vector<int>& pids) {
  std::vector<std::pair<int, UniqueFd>> pidfds;
  for (int pid : pids) {
    UniqueFd fd(PidfdOpen(pid));
    if (fd.valid()) pidfds.emplace_back(pid, std::move(fd));
  }
  QUILT_ASSIGN_OR_RETURN(std::vector<int> still, ReadProcs(dir));
  for (const auto& [pid, fd] : pidfds) {
    if (std::find(still.begin(), still.end(), pid) == still.end()) continue;
    if (PidfdKill(fd.get()) != 0 && errno != ESRCH) {
      return ErrnoStatus(absl::StrCat("kill process ", pid, " in cgroup ", dir));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadCgroupFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(absl::StrCat("read ", path));
  std::string content;
  char buf[4096];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(absl::StrCat("read ", path));
    if (n == 0) break;
    content.append(buf, static_cast<size_t>(n));
  }
  return content;
}

absl::Status WriteCgroupFile(const std::string& path, absl::string_view value) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(absl::StrCat("open ", path));
  ssize_t n;
  do {
    n = write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus(absl::StrCat("write \"", value, "\" to ", path));
  if (static_cast<size_t>(n) != value.size()) {
    return absl::InternalError(absl::StrCat("write \"", value, "\" to ", path, ": short write"));
  }
  return absl::OkStatus();
}

absl::Status MakeCgroupDir(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0) return ErrnoStatus(absl::StrCat("create cgroup ", path));
  return absl::OkStatus();
}

absl::Status MakeCgroupDirs(const std::string& base, const std::string& path) {
  if (path.size() <= base.size()) return absl::OkStatus();
  std::string current = base;
  for (absl::string_view part :
       absl::StrSplit(absl::string_view(path).substr(base.size()), '/', absl::SkipEmpty())) {
    absl::StrAppend(&current, "/", part);
    if (mkdir(current.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(absl::StrCat("create cgroup ", current));
    }
  }
  return absl::OkStatus();
}

absl::Status MoveProcess(const std::string& dir, int pid) {
  return WriteCgroupFile(absl::StrCat(dir, "/cgroup.procs"), absl::StrCat(pid));
}

absl::Status KillCgroupProcesses(const std::vector<std::string>& dirs, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    std::string busy;
    size_t left = 0;
    for (const std::string& top : dirs) {
      // Child cgroups are re-listed every round: a container may create some (cgroupns).
      for (const std::string& dir : CgroupSubtree(top)) {
        QUILT_ASSIGN_OR_RETURN(std::vector<int> pids, ReadProcs(dir));
        if (pids.empty()) continue;
        left += pids.size();
        busy = dir;
        QUILT_RETURN_IF_ERROR(KillListed(dir, pids));
      }
    }
    if (left == 0) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("kill processes in cgroup ", busy, ": ", left,
                                                      " still there after ",
                                                      absl::FormatDuration(timeout)));
    }
    absl::SleepFor(kPollInterval);
  }
}

absl::Status RemoveCgroupTree(const std::string& dir, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  std::vector<std::string> all = CgroupSubtree(dir);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    // A killed task leaves cgroup.procs before the kernel has released its css_set, so
    // rmdir can see EBUSY for a short while after the cgroup looks empty.
    while (rmdir(it->c_str()) != 0) {
      if (errno == ENOENT) break;
      if (errno != EBUSY || absl::Now() > deadline) {
        return ErrnoStatus(absl::StrCat("remove cgroup ", *it));
      }
      absl::SleepFor(kPollInterval);
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ListCgroupChildren(const std::string& dir) {
  std::vector<std::string> children;
  std::unique_ptr<DIR, DirCloser> handle(opendir(dir.c_str()));
  if (handle == nullptr) return children;
  while (const dirent* entry = readdir(handle.get())) {
    absl::string_view name = entry->d_name;
    if (entry->d_type == DT_DIR && name != "." && name != "..") children.emplace_back(name);
  }
  return children;
}

absl::StatusOr<std::vector<int>> ListCgroupProcesses(const std::string& dir) {
  if (::access(dir.c_str(), F_OK) != 0) return ErrnoStatus(absl::StrCat("list processes of ", dir));
  std::vector<int> pids;
  for (const std::string& cgroup : CgroupSubtree(dir)) {
    QUILT_ASSIGN_OR_RETURN(std::vector<int> listed, ReadProcs(cgroup));
    pids.insert(pids.end(), listed.begin(), listed.end());
  }
  return pids;
}

}  // namespace quilt
