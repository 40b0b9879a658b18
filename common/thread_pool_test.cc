#include "common/thread_pool.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

TEST(ThreadPoolTest, RunsEveryTaskBeforeDestruction) {
  std::atomic<int> done{0};
  {
    ThreadPool pool(3);
    for (int i = 0; i < 100; ++i) pool.Schedule([&] { done.fetch_add(1); });
  }
  EXPECT_EQ(done.load(), 100);
}

TEST(ThreadPoolTest, BlockedTaskDoesNotStopOthers) {
  ThreadPool pool(2);
  absl::Notification release, second_ran;
  pool.Schedule([&] { release.WaitForNotification(); });
  pool.Schedule([&] { second_ran.Notify(); });
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(absl::Seconds(5)));
  release.Notify();
}

}  // namespace
}  // namespace quilt
