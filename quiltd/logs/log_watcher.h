// Wakes streaming log readers when a log file grows, without polling: one inotify thread
// serves every follower in quiltd.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace quilt {

class LogWatcher {
 public:
  // How long a waiter waits at most when no event arrives: a safety net against missed
  // events (e.g. a watch that could not be added because the directory did not exist yet).
  static constexpr absl::Duration kDefaultFallback = absl::Milliseconds(250);

  // Starts the watcher thread. Fails when inotify or eventfd cannot be created.
  static absl::StatusOr<std::unique_ptr<LogWatcher>> Create(
      absl::Duration fallback = kDefaultFallback);

  // Stops and joins the thread; callbacks still waiting never run.
  ~LogWatcher();

  LogWatcher(const LogWatcher&) = delete;
  LogWatcher& operator=(const LogWatcher&) = delete;

  // Calls `callback` once, on the watcher thread, when the file at `path` is modified,
  // created or moved into place, when Notify(path) is called, or after the fallback timeout,
  // whichever comes first. The callback must be cheap and must not block; it may call
  // WaitForChange or Cancel. Returns a handle for Cancel (never 0).
  uint64_t WaitForChange(const std::string& path, std::function<void()> callback);

  // Cancels a wait. When Cancel returns the callback will not run, unless it is running right
  // now on the watcher thread: then Cancel waits for it to finish (but does not wait when
  // called from the callback itself). Unknown or finished handles are ignored.
  void Cancel(uint64_t handle);

  // Wakes every waiter of `path` (e.g. the container exited and its log is final).
  void Notify(const std::string& path);

  // Directories watched right now (for tests and stats).
  size_t WatchedDirectoryCount() const;

 private:
  struct Waiter {
    std::string key;  // normalized path, see PathKey
    std::string dir;
    std::function<void()> callback;
    absl::Time deadline;
  };
  struct DirWatch {
    int wd = -1;  // -1: not watched (the directory is missing or the watch was dropped)
    int refs = 0;
  };

  LogWatcher(UniqueFd inotify_fd, UniqueFd event_fd, absl::Duration fallback);

  void Run();
  // Wakes the thread so it re-reads its deadlines or pending notifications.
  void Wake();
  // Reads inotify events and adds the waiters they concern to `due`.
  void ReadEvents(std::vector<uint64_t>* due) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the waiters whose deadline passed to `due`; returns the poll timeout in ms.
  int CollectExpired(std::vector<uint64_t>* due) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddWaitersOf(const std::string& key, std::vector<uint64_t>* due)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs the callbacks of the waiters in `due` that were not cancelled meanwhile.
  void RunCallbacks(const std::vector<uint64_t>& due) ABSL_LOCKS_EXCLUDED(mu_);
  void RefDir(const std::string& dir) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnrefDir(const std::string& dir) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a waiter from every index; returns its callback.
  std::function<void()> RemoveWaiter(uint64_t handle) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const UniqueFd inotify_fd_;
  const UniqueFd event_fd_;
  const absl::Duration fallback_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_handle_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<uint64_t>> by_key_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<absl::Time, uint64_t>> deadlines_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, DirWatch> dirs_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::string> dir_of_wd_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> notified_ ABSL_GUARDED_BY(mu_);
  uint64_t running_ ABSL_GUARDED_BY(mu_) = 0;  // handle whose callback runs now

  std::thread thread_;
};

}  // namespace quilt
