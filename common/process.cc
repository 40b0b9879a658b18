#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace quilt {

std::optional<absl::string_view> ProcStatField(absl::string_view stat, size_t n) {
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos || n < 3) return std::nullopt;
  std::vector<absl::string_view> rest =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  if (rest.size() < n - 2) return std::nullopt;
  return rest[n - 3];
}

absl::StatusOr<int64_t> ProcessStartTicks(pid_t pid) {
  // Plain read(2): the process may vanish between open and read (ESRCH), which iostreams
  // would turn into an exception.
  const std::string path = absl::StrCat("/proc/", pid, "/stat");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[1024];
  const ssize_t n = fd ? ::read(fd.get(), buf, sizeof(buf) - 1) : -1;
  if (n <= 0) return absl::NotFoundError(absl::StrCat("no process ", pid));
  const std::optional<absl::string_view> start =
      ProcStatField(absl::string_view(buf, static_cast<size_t>(n)), 22);
  int64_t ticks = 0;
  if (!start.has_value() || !absl::SimpleAtoi(*start, &ticks)) {
    return absl::InternalError(absl::StrCat("parse /proc/", pid, "/stat"));
  }
  return ticks;
}

absl::StatusOr<UniqueFd> OpenPidfd(pid_t pid) {
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return ErrnoStatus(absl::StrCat("pidfd_open ", pid));
  // pidfd_open sets O_CLOEXEC itself.
  return UniqueFd(fd);
}

absl::StatusOr<UniqueFd> OpenPidfdIfSame(pid_t pid, int64_t start_ticks) {
  if (pid <= 0) return absl::NotFoundError("no process");
  QUILT_ASSIGN_OR_RETURN(UniqueFd fd, OpenPidfd(pid));
  // Check after opening: the pidfd pins this pid, so a match now is a match for the fd.
  QUILT_ASSIGN_OR_RETURN(int64_t ticks, ProcessStartTicks(pid));
  if (ticks != start_ticks) {
    return absl::NotFoundError(absl::StrCat("process ", pid, " was replaced"));
  }
  return fd;
}

absl::Status SignalPidfd(int pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0) {
    return ErrnoStatus("pidfd_send_signal");
  }
  return absl::OkStatus();
}

bool AwaitExitAndReap(pid_t pid, int64_t start_ticks, int timeout_ms) {
  absl::StatusOr<UniqueFd> pidfd = OpenPidfdIfSame(pid, start_ticks);
  if (!pidfd.ok()) return true;
  pollfd fd = {pidfd->get(), POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&fd, 1, timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return false;
  // ECHILD when it is not our child: its own parent reaps it.
  siginfo_t info{};
  ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd->get()), &info,
           WEXITED | WNOHANG);
  return true;
}

}  // namespace quilt
