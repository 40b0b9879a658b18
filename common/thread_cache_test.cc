#include "common/thread_cache.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

TEST(ThreadCacheTest, ATaskRunsOnTheThreadTheLastOneLeftIdle) {
  ThreadCache cache;
  std::thread::id first, second;
  absl::Notification one, two;
  cache.Run([&] {
    first = std::this_thread::get_id();
    one.Notify();
  });
  one.WaitForNotification();
  // Until the first thread is idle, a second task would get a new one.
  while (cache.idle() != 1) std::this_thread::yield();
  cache.Run([&] {
    second = std::this_thread::get_id();
    two.Notify();
  });
  two.WaitForNotification();
  EXPECT_EQ(first, second);
  EXPECT_EQ(cache.threads(), 1);
}

TEST(ThreadCacheTest, BlockingTasksRunSideBySide) {
  ThreadCache cache;
  absl::Notification release;
  std::atomic<int> started{0};
  for (int i = 0; i < 5; ++i) {
    cache.Run([&] {
      ++started;
      release.WaitForNotification();
    });
  }
  while (started.load() != 5) std::this_thread::yield();
  EXPECT_EQ(cache.threads(), 5);
  release.Notify();
}

TEST(ThreadCacheTest, IdleThreadsEnd) {
  ThreadCache cache(absl::Milliseconds(50), /*max_idle=*/1);
  absl::Notification release;
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i) {
    cache.Run([&] {
      release.WaitForNotification();
      ++done;
    });
  }
  release.Notify();
  while (done.load() != 3) std::this_thread::yield();
  // One may stay idle, for 50 ms.
  for (int i = 0; i < 200 && cache.threads() != 0; ++i) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(cache.threads(), 0);
}

TEST(ThreadCacheTest, DestructionWaitsForRunningTasks) {
  std::atomic<bool> finished{false};
  {
    ThreadCache cache;
    cache.Run([&] {
      absl::SleepFor(absl::Milliseconds(50));
      finished = true;
    });
  }
  EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace quilt
