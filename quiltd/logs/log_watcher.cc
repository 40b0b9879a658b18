#include "quiltd/logs/log_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace quilt {
namespace {

// IN_MODIFY for appends; IN_CREATE / IN_MOVED_TO for a log that appears after the reader
// started waiting (the monitor creates it when the container starts); IN_CLOSE_WRITE for the
// final flush when the monitor exits.
constexpr uint32_t kWatchMask = IN_MODIFY | IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO;

// Splits `path` into its directory and a key that an inotify event (directory + "/" + name)
// reproduces exactly.
std::pair<std::string, std::string> DirAndKey(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", "./" + path};
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  return {dir, path};
}

}  // namespace

absl::StatusOr<std::unique_ptr<LogWatcher>> LogWatcher::Create(absl::Duration fallback) {
  UniqueFd inotify_fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_fd.valid()) return ErrnoStatus("create log watcher: inotify_init1");
  UniqueFd event_fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event_fd.valid()) return ErrnoStatus("create log watcher: eventfd");
  std::unique_ptr<LogWatcher> watcher(
      new LogWatcher(std::move(inotify_fd), std::move(event_fd), fallback));
  try {
    watcher->thread_ = std::thread([w = watcher.get()] { w->Run(); });
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(absl::StrCat("create log watcher thread: ", e.what()));
  }
  return watcher;
}

LogWatcher::LogWatcher(UniqueFd inotify_fd, UniqueFd event_fd, absl::Duration fallback)
    : inotify_fd_(std::move(inotify_fd)), event_fd_(std::move(event_fd)), fallback_(fallback) {}

LogWatcher::~LogWatcher() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  Wake();
  if (thread_.joinable()) thread_.join();
}

uint64_t LogWatcher::WaitForChange(const std::string& path, std::function<void()> callback) {
  auto [dir, key] = DirAndKey(path);
  bool earliest;
  uint64_t handle;
  {
    absl::MutexLock lock(&mu_);
    handle = next_handle_++;
    absl::Time deadline = absl::Now() + fallback_;
    by_key_[key].insert(handle);
    deadlines_.emplace(deadline, handle);
    RefDir(dir);
    waiters_.emplace(handle, Waiter{std::move(key), std::move(dir), std::move(callback), deadline});
    // Only a new earliest deadline changes the thread's poll timeout.
    earliest = deadlines_.begin()->second == handle;
  }
  if (earliest) Wake();
  return handle;
}

void LogWatcher::Cancel(uint64_t handle) {
  absl::MutexLock lock(&mu_);
  if (waiters_.count(handle) != 0) {
    RemoveWaiter(handle);
    return;
  }
  // From inside the callback itself waiting would deadlock; it has run by then anyway.
  if (running_ == handle && std::this_thread::get_id() != thread_.get_id()) {
    auto done = [this, handle]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ != handle; };
    mu_.Await(absl::Condition(&done));
  }
}

void LogWatcher::Notify(const std::string& path) {
  {
    absl::MutexLock lock(&mu_);
    AddWaitersOf(DirAndKey(path).second, &notified_);
    if (notified_.empty()) return;
  }
  Wake();
}

size_t LogWatcher::WatchedDirectoryCount() const {
  absl::MutexLock lock(&mu_);
  size_t count = 0;
  for (const auto& [dir, watch] : dirs_) count += watch.wd >= 0 ? 1 : 0;
  return count;
}

void LogWatcher::Wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  (void)!::write(event_fd_.get(), &one, sizeof(one));
}

void LogWatcher::Run() {
  while (true) {
    std::vector<uint64_t> due;
    int timeout_ms;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      timeout_ms = CollectExpired(&due);
      due.insert(due.end(), notified_.begin(), notified_.end());
      notified_.clear();
    }
    if (due.empty()) {
      pollfd fds[2] = {{inotify_fd_.get(), POLLIN, 0}, {event_fd_.get(), POLLIN, 0}};
      if (::poll(fds, 2, timeout_ms) < 0 && errno != EINTR) {
        QUILT_LOG(ERROR) << "log watcher: poll: " << std::strerror(errno);
      }
      if ((fds[1].revents & POLLIN) != 0) {
        uint64_t count;
        (void)!::read(event_fd_.get(), &count, sizeof(count));
      }
      if ((fds[0].revents & POLLIN) != 0) {
        absl::MutexLock lock(&mu_);
        ReadEvents(&due);
      }
    }
    RunCallbacks(due);
  }
}

void LogWatcher::ReadEvents(std::vector<uint64_t>* due) {
  alignas(inotify_event) char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(inotify_fd_.get(), buf, sizeof(buf));
    if (n <= 0) return;  // EAGAIN: drained
    for (char* p = buf; p < buf + n;) {
      auto* event = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + event->len;
      if ((event->mask & IN_Q_OVERFLOW) != 0) {
        // Events were lost: wake everyone, they re-read and wait again.
        for (const auto& [handle, waiter] : waiters_) due->push_back(handle);
        continue;
      }
      auto dir = dir_of_wd_.find(event->wd);
      if (dir == dir_of_wd_.end()) continue;
      if ((event->mask & IN_IGNORED) != 0) {
        // The directory was removed (or unmounted): its waiters fall back to the timer.
        dirs_[dir->second].wd = -1;
        dir_of_wd_.erase(dir);
        continue;
      }
      if (event->len == 0) continue;
      const std::string& d = dir->second;
      AddWaitersOf(absl::StrCat(d == "/" ? "" : d, "/", event->name), due);
    }
  }
}

int LogWatcher::CollectExpired(std::vector<uint64_t>* due) {
  absl::Time now = absl::Now();
  auto it = deadlines_.begin();
  for (; it != deadlines_.end() && it->first <= now; ++it) due->push_back(it->second);
  if (it == deadlines_.end()) return -1;
  // Round up so the thread never spins on a timeout of 0 before the deadline.
  return static_cast<int>(
      absl::ToInt64Milliseconds(absl::Ceil(it->first - now, absl::Milliseconds(1))));
}

void LogWatcher::AddWaitersOf(const std::string& key, std::vector<uint64_t>* due) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  due->insert(due->end(), it->second.begin(), it->second.end());
}

void LogWatcher::RunCallbacks(const std::vector<uint64_t>& due) {
  for (uint64_t handle : due) {
    std::function<void()> callback;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      // Gone when cancelled meanwhile, or listed twice (event and timer at once).
      if (waiters_.count(handle) == 0) continue;
      callback = RemoveWaiter(handle);
      running_ = handle;
    }
    callback();
    absl::MutexLock lock(&mu_);
    running_ = 0;
  }
}

void LogWatcher::RefDir(const std::string& dir) {
  DirWatch& watch = dirs_[dir];
  ++watch.refs;
  if (watch.wd >= 0) return;
  int wd = inotify_add_watch(inotify_fd_.get(), dir.c_str(), kWatchMask);
  if (wd < 0) {
    // A missing directory is normal (container not created yet); the timer covers it.
    if (errno != ENOENT) {
      QUILT_LOG(WARNING) << "watch log directory " << dir << ": " << std::strerror(errno);
    }
    return;
  }
  watch.wd = wd;
  dir_of_wd_[wd] = dir;
}

void LogWatcher::UnrefDir(const std::string& dir) {
  auto it = dirs_.find(dir);
  if (it == dirs_.end() || --it->second.refs > 0) return;
  // Drop the watch with its last waiter so thousands of finished followers leave no watches
  // behind (the per-user inotify watch limit is finite).
  if (it->second.wd >= 0) {
    inotify_rm_watch(inotify_fd_.get(), it->second.wd);
    dir_of_wd_.erase(it->second.wd);
  }
  dirs_.erase(it);
}

std::function<void()> LogWatcher::RemoveWaiter(uint64_t handle) {
  auto it = waiters_.find(handle);
  Waiter& waiter = it->second;
  auto keyed = by_key_.find(waiter.key);
  keyed->second.erase(handle);
  if (keyed->second.empty()) by_key_.erase(keyed);
  deadlines_.erase({waiter.deadline, handle});
  UnrefDir(waiter.dir);
  std::function<void()> callback = std::move(waiter.callback);
  waiters_.erase(it);
  return callback;
}

}  // namespace quilt
