#include "quiltd/runtime/exit_watcher.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"
#include "common/status_macros.h"

namespace quilt {

absl::StatusOr<std::unique_ptr<ExitWatcher>> ExitWatcher::Create() {
  UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return ErrnoStatus("epoll_create1");
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return ErrnoStatus("eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake.get();
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &ev) != 0) {
    return ErrnoStatus("epoll_ctl add eventfd");
  }
  return std::unique_ptr<ExitWatcher>(new ExitWatcher(std::move(epoll), std::move(wake)));
}

ExitWatcher::ExitWatcher(UniqueFd epoll, UniqueFd wake)
    : epoll_(std::move(epoll)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Run(); });
}

ExitWatcher::~ExitWatcher() {
  uint64_t one = 1;
  ssize_t ignored = ::write(wake_.get(), &one, sizeof(one));
  (void)ignored;
  thread_.join();
}

absl::Status ExitWatcher::Watch(UniqueFd pidfd, std::function<void()> on_exit) {
  const int fd = pidfd.get();
  absl::MutexLock lock(&mu_);
  watched_[fd] = {std::move(pidfd), std::move(on_exit)};
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    watched_.erase(fd);
    return ErrnoStatus("epoll_ctl add pidfd");
  }
  return absl::OkStatus();
}

void ExitWatcher::Run() {
  epoll_event events[64];
  while (true) {
    const int n = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      QUILT_LOG(ERROR) << "epoll_wait: " << std::strerror(errno);
      return;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.get()) return;
      std::pair<UniqueFd, std::function<void()>> entry;
      {
        absl::MutexLock lock(&mu_);
        auto it = watched_.find(fd);
        if (it == watched_.end()) continue;
        entry = std::move(it->second);
        watched_.erase(it);
      }
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      // Reap it if it is our child; a monitor adopted after a restart is not (ECHILD).
      siginfo_t info{};
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(fd), &info, WEXITED | WNOHANG);
      entry.second();
    }
  }
}

}  // namespace quilt
