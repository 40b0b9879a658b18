#include "common/thread_cache.h"

#include <thread>
#include <utility>

namespace quilt {

ThreadCache::ThreadCache(absl::Duration idle_timeout, int max_idle)
    : idle_timeout_(idle_timeout), max_idle_(max_idle) {}

ThreadCache::~ThreadCache() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  mu_.Await(absl::Condition(
      +[](int* threads) { return *threads == 0; }, &threads_));
}

void ThreadCache::Run(std::function<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    // Each idle thread takes one handed task; more tasks than idle threads get new ones.
    if (idle_ > static_cast<int>(handed_.size())) {
      handed_.push_back(std::move(task));
      return;
    }
    ++threads_;
  }
  std::thread([this, task = std::move(task)]() mutable { Work(std::move(task)); }).detach();
}

int ThreadCache::threads() const {
  absl::MutexLock lock(&mu_);
  return threads_;
}

int ThreadCache::idle() const {
  absl::MutexLock lock(&mu_);
  return idle_;
}

void ThreadCache::Work(std::function<void()> task) {
  for (;;) {
    task();
    task = nullptr;  // what it holds goes now, not when the thread is next used
    absl::MutexLock lock(&mu_);
    if (!stopping_ && idle_ < max_idle_) {
      ++idle_;
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](ThreadCache* cache) ABSL_EXCLUSIVE_LOCKS_REQUIRED(cache->mu_) {
                                 return cache->stopping_ || !cache->handed_.empty();
                               },
                               this),
                           idle_timeout_);
      --idle_;
      if (!handed_.empty()) {
        task = std::move(handed_.front());
        handed_.pop_front();
        continue;
      }
    }
    // Timed out, stopping, or enough threads idle already: this one ends. The count is the
    // last thing it changes (the destructor returns once it is 0).
    --threads_;
    return;
  }
}

}  // namespace quilt
