#include "quiltd/cgroup/cgroup_parse.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::ElementsAre;

TEST(ParseProcCgroupTest, HybridHostLines) {
  auto entries = ParseProcCgroup(
      "9:name=systemd:/\n4:memory:/process_api/d5a1\n1:cpu,cpuacct:/\n0::/user.slice\n");
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ((*entries)[1].hierarchy_id, 4);
  EXPECT_THAT((*entries)[1].controllers, ElementsAre("memory"));
  EXPECT_EQ((*entries)[1].path, "/process_api/d5a1");
  EXPECT_THAT((*entries)[2].controllers, ElementsAre("cpu", "cpuacct"));
  EXPECT_EQ((*entries)[3].hierarchy_id, 0);
  EXPECT_TRUE((*entries)[3].controllers.empty());
  EXPECT_EQ((*entries)[3].path, "/user.slice");
}

TEST(ParseProcCgroupTest, PathMayContainColons) {
  auto entries = ParseProcCgroup("0::/a:b/c\n");
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[0].path, "/a:b/c");
}

TEST(ParseProcCgroupTest, RejectsMalformedLines) {
  EXPECT_FALSE(ParseProcCgroup("x:memory:/\n").ok());
  EXPECT_FALSE(ParseProcCgroup("4:memory\n").ok());
  EXPECT_FALSE(ParseProcCgroup("4:memory:relative\n").ok());
}

TEST(ParseMountinfoTest, KeepsOnlyCgroupMountsWithVersionAndRoot) {
  constexpr char kText[] =
      "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
  auto mounts = ParseMountinfo(kText);
  ASSERT_TRUE(mounts.ok()) << mounts.status();
  ASSERT_EQ(mounts->size(), 3u);
  EXPECT_EQ((*mounts)[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_FALSE((*mounts)[0].v2);
  EXPECT_THAT((*mounts)[0].super_options, ElementsAre("rw", "cpu", "cpuacct"));
  EXPECT_EQ((*mounts)[1].root, "/docker/abc");
  EXPECT_TRUE((*mounts)[2].v2);
  EXPECT_EQ((*mounts)[2].mount_point, "/sys/fs/cgroup/unified");
}

TEST(ParseMountinfoTest, DecodesOctalEscapes) {
  auto mounts = ParseMountinfo("50 1 0:40 / /mnt/my\\040cg rw - cgroup2 none rw\n");
  ASSERT_TRUE(mounts.ok());
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0].mount_point, "/mnt/my cg");
}

TEST(ParseMountinfoTest, RejectsLineWithoutSeparator) {
  EXPECT_FALSE(ParseMountinfo("50 1 0:40 / /mnt rw cgroup2 none rw\n").ok());
}

TEST(FindKeyedValueTest, MemoryEventsAndOomControl) {
  constexpr char kEvents[] = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
  EXPECT_EQ(FindKeyedValue(kEvents, "oom_kill"), 1);
  EXPECT_EQ(FindKeyedValue(kEvents, "oom"), 2);
  EXPECT_EQ(FindKeyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n", "oom_kill"), 7);
  EXPECT_EQ(FindKeyedValue("usage_usec 1234\nuser_usec 1000\n", "usage_usec"), 1234);
  EXPECT_EQ(FindKeyedValue(kEvents, "missing"), std::nullopt);
  EXPECT_EQ(FindKeyedValue("oom_kill x\n", "oom_kill"), std::nullopt);
}

TEST(ParseCgroupIntTest, NumbersAndMax) {
  EXPECT_EQ(*ParseCgroupInt("33554432\n"), 33554432);
  EXPECT_EQ(*ParseCgroupInt("max\n"), 0);
  EXPECT_FALSE(ParseCgroupInt("12 34\n").ok());
  EXPECT_FALSE(ParseCgroupInt("").ok());
}

TEST(ParsePidListTest, OnePidPerLine) {
  EXPECT_THAT(*ParsePidList("12\n345\n"), ElementsAre(12, 345));
  EXPECT_TRUE(ParsePidList("").value().empty());
  EXPECT_FALSE(ParsePidList("12\nabc\n").ok());
}

TEST(ParseControllerListTest, SplitsOnWhitespace) {
  EXPECT_THAT(ParseControllerList("cpuset cpu io memory pids\n"),
              ElementsAre("cpuset", "cpu", "io", "memory", "pids"));
  EXPECT_TRUE(ParseControllerList("\n").empty());
}

}  // namespace
}  // namespace quilt
