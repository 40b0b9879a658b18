#include "quiltd/daemon/instance_lock.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "common/fs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

TEST(InstanceLockTest, SecondHolderIsRefusedAndStaleSocketRemoved) {
  char tmpl[] = "/tmp/quilt-lock-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string socket = dir + "/quilt.sock";
  std::ofstream(socket) << "stale";

  auto first = InstanceLock::Acquire(dir, socket);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_NE(access(socket.c_str(), F_OK), 0) << "stale socket should be gone";

  std::ofstream(socket) << "live";
  auto second = InstanceLock::Acquire(dir, socket);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr(std::to_string(getpid())));
  EXPECT_EQ(access(socket.c_str(), F_OK), 0) << "a refused daemon must not touch the socket";
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace quilt
