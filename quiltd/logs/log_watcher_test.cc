#include "quiltd/logs/log_watcher.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

// Far longer than any test waits, so only real events can fire a callback.
constexpr absl::Duration kNoFallback = absl::Seconds(60);
constexpr absl::Duration kPatience = absl::Seconds(5);

class LogWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/log_watcher_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/container.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Append(const std::string& path, const std::string& bytes) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

  std::unique_ptr<LogWatcher> NewWatcher(absl::Duration fallback = kNoFallback) {
    auto watcher = LogWatcher::Create(fallback);
    EXPECT_TRUE(watcher.ok()) << watcher.status();
    return watcher.ok() ? std::move(*watcher) : nullptr;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(LogWatcherTest, FiresOnAppend) {
  Append(path_, "x");
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  absl::Notification fired;
  watcher->WaitForChange(path_, [&] { fired.Notify(); });
  EXPECT_EQ(watcher->WatchedDirectoryCount(), 1u);
  EXPECT_FALSE(fired.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  Append(path_, "more");
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(kPatience));
}

TEST_F(LogWatcherTest, FiresWhenTheFileIsCreated) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  absl::Notification fired;
  watcher->WaitForChange(path_, [&] { fired.Notify(); });
  Append(path_, "first");
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(kPatience));
}

TEST_F(LogWatcherTest, IgnoresOtherFilesInTheDirectory) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  absl::Notification fired;
  watcher->WaitForChange(path_, [&] { fired.Notify(); });
  Append(dir_ + "/other.log", "noise");
  EXPECT_FALSE(fired.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  Append(path_, "mine");
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(kPatience));
}

TEST_F(LogWatcherTest, FiresOnNotify) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  absl::Notification fired;
  watcher->WaitForChange(path_, [&] { fired.Notify(); });
  watcher->Notify(dir_ + "/unrelated.log");
  EXPECT_FALSE(fired.WaitForNotificationWithTimeout(absl::Milliseconds(100)));
  watcher->Notify(path_);
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(kPatience));
}

TEST_F(LogWatcherTest, CancelPreventsTheCallbackAndDropsTheWatch) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  std::atomic<int> calls{0};
  uint64_t handle = watcher->WaitForChange(path_, [&] { ++calls; });
  watcher->Cancel(handle);
  EXPECT_EQ(watcher->WatchedDirectoryCount(), 0u);
  Append(path_, "data");
  watcher->Notify(path_);
  // A second waiter proves the thread processed the events the first would have seen.
  absl::Notification later;
  watcher->WaitForChange(path_, [&] { later.Notify(); });
  watcher->Notify(path_);
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(kPatience));
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(LogWatcherTest, ManyWaitersOnOneFileEachFireOnce) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  constexpr int kWaiters = 200;
  std::atomic<int> calls{0};
  absl::Notification all;
  for (int i = 0; i < kWaiters; ++i) {
    watcher->WaitForChange(path_, [&] {
      if (++calls == kWaiters) all.Notify();
    });
  }
  EXPECT_EQ(watcher->WatchedDirectoryCount(), 1u);
  Append(path_, "x");
  ASSERT_TRUE(all.WaitForNotificationWithTimeout(kPatience));
  Append(path_, "y");
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(calls.load(), kWaiters);
  EXPECT_EQ(watcher->WatchedDirectoryCount(), 0u);
}

TEST_F(LogWatcherTest, WatchesOneDirectoryPerDistinctDirectory) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  std::vector<uint64_t> handles;
  for (int i = 0; i < 20; ++i) {
    std::string sub = dir_ + "/c" + std::to_string(i);
    std::filesystem::create_directory(sub);
    handles.push_back(watcher->WaitForChange(sub + "/log", [] {}));
    handles.push_back(watcher->WaitForChange(sub + "/log", [] {}));
  }
  EXPECT_EQ(watcher->WatchedDirectoryCount(), 20u);
  for (uint64_t h : handles) watcher->Cancel(h);
  EXPECT_EQ(watcher->WatchedDirectoryCount(), 0u);
}

TEST_F(LogWatcherTest, FallbackTimerFiresWithoutEvents) {
  auto watcher = NewWatcher(absl::Milliseconds(50));
  ASSERT_NE(watcher, nullptr);
  absl::Notification fired;
  absl::Time start = absl::Now();
  // The directory does not exist, so no watch can be added: only the timer can fire.
  watcher->WaitForChange(dir_ + "/missing/log", [&] { fired.Notify(); });
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(kPatience));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(45));
}

TEST_F(LogWatcherTest, CancelWaitsForARunningCallback) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  absl::Notification started;
  std::atomic<bool> finished{false};
  uint64_t handle = watcher->WaitForChange(path_, [&] {
    started.Notify();
    absl::SleepFor(absl::Milliseconds(200));
    finished = true;
  });
  watcher->Notify(path_);
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(kPatience));
  watcher->Cancel(handle);
  EXPECT_TRUE(finished.load());
}

TEST_F(LogWatcherTest, CallbackMayWaitAgain) {
  auto watcher = NewWatcher();
  ASSERT_NE(watcher, nullptr);
  absl::Notification second;
  LogWatcher* w = watcher.get();
  uint64_t first = 0;
  first = watcher->WaitForChange(path_, [&] {
    w->Cancel(first);  // from the callback: must not deadlock
    w->WaitForChange(path_, [&] { second.Notify(); });
    w->Notify(path_);
  });
  watcher->Notify(path_);
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(kPatience));
}

}  // namespace
}  // namespace quilt
