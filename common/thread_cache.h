// Threads for tasks that may block for as long as they like (an Exec's relay lives as long as
// its command), kept after their task for the next one. A new thread is a new task for the
// scheduler: on a busy machine it can wait up to a whole time slice before it first runs,
// while a waiting thread that is woken runs at once (measured on 2 CPUs busy with compilers:
// 4 ms between an Exec's start and the first step of its new relay thread).
#pragma once

#include <deque>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace quilt {

class ThreadCache {
 public:
  // Threads idle for `idle_timeout` exit; at most `max_idle` wait at a time.
  explicit ThreadCache(absl::Duration idle_timeout = absl::Seconds(60), int max_idle = 16);
  // Waits for running tasks to end and idle threads to exit.
  ~ThreadCache();
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;

  // Runs `task` at once on an idle thread, or on a new one when none is idle.
  void Run(std::function<void()> task);

  // Threads alive (running a task or idle), and of them the idle ones; for tests.
  int threads() const;
  int idle() const;

 private:
  // A thread's life: `task`, then whatever it is handed while idle.
  void Work(std::function<void()> task);

  const absl::Duration idle_timeout_;
  const int max_idle_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> handed_ ABSL_GUARDED_BY(mu_);  // for idle threads
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  int threads_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
