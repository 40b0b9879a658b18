// One thread that waits on many pidfds (monitors) and runs a callback when one exits.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"

namespace quilt {

class ExitWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<ExitWatcher>> Create();
  // Stops the thread; pending callbacks never run.
  ~ExitWatcher();

  // Calls `on_exit` once, on the watcher thread, after the process behind `pidfd` has exited
  // (reaping it first if it is quiltd's child). Takes ownership of the pidfd. Any fd that
  // becomes readable once works the same (the runtime retries with a timerfd).
  absl::Status Watch(UniqueFd pidfd, std::function<void()> on_exit);

 private:
  ExitWatcher(UniqueFd epoll, UniqueFd wake);
  void Run();

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd to stop the thread
  absl::Mutex mu_;
  absl::flat_hash_map<int, std::pair<UniqueFd, std::function<void()>>> watched_
      ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace quilt
