#include "common/process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "gtest/gtest.h"

namespace quilt {
namespace {

TEST(ProcessTest, StartTicksIdentifyAProcess) {
  auto self = ProcessStartTicks(getpid());
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_GT(*self, 0);
  EXPECT_TRUE(OpenPidfdIfSame(getpid(), *self).ok());
  EXPECT_EQ(OpenPidfdIfSame(getpid(), *self + 1).status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcessTest, SignalThroughPidfdAndGoneProcess) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  auto fd = OpenPidfd(child);
  ASSERT_TRUE(fd.ok()) << fd.status();
  ASSERT_TRUE(SignalPidfd(fd->get(), SIGKILL).ok());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(ProcessStartTicks(child).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(SignalPidfd(fd->get(), SIGKILL).code(), absl::StatusCode::kNotFound);
}

TEST(ProcessTest, AwaitExitAndReapWaitsBoundedAndReapsAChild) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  auto ticks = ProcessStartTicks(child);
  ASSERT_TRUE(ticks.ok()) << ticks.status();
  EXPECT_FALSE(AwaitExitAndReap(child, *ticks, 50)) << "it is still running";
  ASSERT_EQ(kill(child, SIGKILL), 0);
  EXPECT_TRUE(AwaitExitAndReap(child, *ticks, 5000));
  // Reaped: nothing is left to wait for.
  EXPECT_EQ(waitpid(child, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_TRUE(AwaitExitAndReap(child, *ticks, 50)) << "a gone process counts as exited";
}

}  // namespace
}  // namespace quilt
