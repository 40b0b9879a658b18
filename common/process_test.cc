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

TEST(ProcessTest, StatFieldsCountFromAfterTheLastParenthesis) {
  // A command name may hold spaces and parentheses.
  const absl::string_view stat = "42 (a) b (c) S 1 42 42 0 -1\n";
  EXPECT_EQ(ProcStatField(stat, 3), "S");
  EXPECT_EQ(ProcStatField(stat, 4), "1");
  EXPECT_EQ(ProcStatField(stat, 8), "-1\n");
  EXPECT_EQ(ProcStatField(stat, 9), std::nullopt) << "past the end";
  EXPECT_EQ(ProcStatField(stat, 2), std::nullopt) << "the name is not a counted field";
  EXPECT_EQ(ProcStatField("42 no name S 1", 3), std::nullopt);
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
