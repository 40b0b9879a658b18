#include "quiltd/runtime/exec_launcher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

TEST(ParseExecStatusTest, ExitLine) {
  absl::StatusOr<ExecResult> result = ParseExecStatus("exit 137 9 1\n");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 137);
  EXPECT_EQ(result->signal, 9);
  EXPECT_TRUE(result->timed_out);
  result = ParseExecStatus("exit 3 0 0\n");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_FALSE(result->timed_out);
}

TEST(ParseExecStatusTest, GoneContainerIsAFailedPrecondition) {
  absl::StatusOr<ExecResult> result =
      ParseExecStatus("error 3 join container namespaces: No such process\n");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status().message(),
              ::testing::HasSubstr("join container namespaces: No such process"));
}

TEST(ParseExecStatusTest, OtherErrorsAndGarbageAreInternal) {
  absl::StatusOr<ExecResult> result = ParseExecStatus("error 13 join cgroup /x: Permission denied");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(result.status().message(), ::testing::HasSubstr("join cgroup /x"));
  EXPECT_EQ(ParseExecStatus("").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseExecStatus("exit 1 2").status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ParseExecStatus("exit a 0 0").status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace quilt
