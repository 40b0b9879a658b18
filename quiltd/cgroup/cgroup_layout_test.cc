#include "quiltd/cgroup/cgroup_layout.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

CgroupMountInfo V1Mount(const std::string& point, const std::string& root = "/") {
  return CgroupMountInfo{root, point, false, {}};
}
CgroupMountInfo V2Mount(const std::string& point, const std::string& root = "/") {
  return CgroupMountInfo{root, point, true, {}};
}

// This development machine: every controller on its own v1 mount, hugetlb alone on cgroup2.
CgroupHostFacts HybridFacts() {
  CgroupHostFacts facts;
  facts.controller_mounts = {{"cpu", "/sys/fs/cgroup/cpu"},
                             {"cpuacct", "/sys/fs/cgroup/cpuacct"},
                             {"memory", "/sys/fs/cgroup/memory"},
                             {"pids", "/sys/fs/cgroup/pids"},
                             {"hugetlb", "/sys/fs/cgroup/unified"}};
  facts.mounts = {V1Mount("/sys/fs/cgroup/cpu"), V1Mount("/sys/fs/cgroup/cpuacct"),
                  V1Mount("/sys/fs/cgroup/memory"), V1Mount("/sys/fs/cgroup/pids"),
                  V2Mount("/sys/fs/cgroup/unified")};
  facts.v2_root_controllers = {"hugetlb"};
  facts.self = {{8, {"pids"}, "/"},
                {4, {"memory"}, "/process_api/d5a1"},
                {2, {"cpuacct"}, "/"},
                {1, {"cpu"}, "/"},
                {0, {}, "/"}};
  return facts;
}

CgroupHostFacts V2Facts() {
  CgroupHostFacts facts;
  facts.controller_mounts = {
      {"cpu", "/sys/fs/cgroup"}, {"memory", "/sys/fs/cgroup"}, {"pids", "/sys/fs/cgroup"}};
  facts.mounts = {V2Mount("/sys/fs/cgroup")};
  facts.v2_root_controllers = {"cpuset", "cpu", "io", "memory", "pids"};
  facts.self = {{0, {}, "/system.slice/quiltd.service"}};
  return facts;
}

TEST(ComputeCgroupLayoutTest, HybridHostUsesV1PerControllerAndOwnPaths) {
  auto layout = ComputeCgroupLayout(HybridFacts(), "");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kHybrid);
  ASSERT_EQ(layout->hierarchies.size(), 4u);
  EXPECT_EQ(layout->VersionOf(CgroupController::kMemory), CgroupVersion::kV1);
  EXPECT_EQ(layout->HierarchyOf(CgroupController::kMemory)->parent_dir,
            "/sys/fs/cgroup/memory/process_api/d5a1");
  EXPECT_EQ(layout->HierarchyOf(CgroupController::kCpu)->parent_dir, "/sys/fs/cgroup/cpu");
  EXPECT_EQ(layout->HierarchyOf(CgroupController::kCpuacct)->parent_dir, "/sys/fs/cgroup/cpuacct");
  EXPECT_EQ(layout->HierarchyOf(CgroupController::kPids)->parent_dir, "/sys/fs/cgroup/pids");
  EXPECT_EQ(layout->V2Hierarchy(), nullptr);
}

TEST(ComputeCgroupLayoutTest, CoMountedCpuCpuacctIsOneHierarchy) {
  CgroupHostFacts facts = HybridFacts();
  facts.controller_mounts[0].second = "/sys/fs/cgroup/cpu,cpuacct";
  facts.controller_mounts[1].second = "/sys/fs/cgroup/cpu,cpuacct";
  facts.mounts[0] = V1Mount("/sys/fs/cgroup/cpu,cpuacct");
  facts.mounts.erase(facts.mounts.begin() + 1);
  facts.self[2] = {1, {"cpu", "cpuacct"}, "/"};
  facts.self.erase(facts.self.begin() + 3);
  auto layout = ComputeCgroupLayout(facts, "");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->hierarchies.size(), 3u);
  EXPECT_EQ(layout->HierarchyOf(CgroupController::kCpu),
            layout->HierarchyOf(CgroupController::kCpuacct));
  EXPECT_THAT(layout->HierarchyOf(CgroupController::kCpu)->controllers,
              ElementsAre(CgroupController::kCpu, CgroupController::kCpuacct));
}

TEST(ComputeCgroupLayoutTest, PureV2HostHasOneHierarchyAndNoCpuacct) {
  auto layout = ComputeCgroupLayout(V2Facts(), "");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->mode, CgroupMode::kV2);
  ASSERT_EQ(layout->hierarchies.size(), 1u);
  EXPECT_TRUE(layout->hierarchies[0].v2);
  EXPECT_TRUE(layout->hierarchies[0].mounted_from_root);
  EXPECT_EQ(layout->hierarchies[0].parent_dir, "/sys/fs/cgroup/system.slice/quiltd.service");
  EXPECT_EQ(layout->VersionOf(CgroupController::kCpuacct), CgroupVersion::kUnavailable);
  EXPECT_EQ(layout->VersionOf(CgroupController::kPids), CgroupVersion::kV2);
  EXPECT_NE(layout->V2Hierarchy(), nullptr);
}

TEST(ComputeCgroupLayoutTest, V2ControllerMissingFromRootIsUnavailable) {
  CgroupHostFacts facts = V2Facts();
  facts.v2_root_controllers = {"memory", "pids"};
  auto layout = ComputeCgroupLayout(facts, "");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->VersionOf(CgroupController::kCpu), CgroupVersion::kUnavailable);
  EXPECT_EQ(layout->VersionOf(CgroupController::kMemory), CgroupVersion::kV2);
}

TEST(ComputeCgroupLayoutTest, HybridFallsBackToV2ForControllerNotOnV1) {
  CgroupHostFacts facts = HybridFacts();
  facts.controller_mounts.erase(facts.controller_mounts.begin() + 3);  // no v1 pids
  facts.v2_root_controllers = {"pids"};
  facts.self[4].path = "/init.scope";
  auto layout = ComputeCgroupLayout(facts, "");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->VersionOf(CgroupController::kPids), CgroupVersion::kV2);
  EXPECT_EQ(layout->HierarchyOf(CgroupController::kPids)->parent_dir,
            "/sys/fs/cgroup/unified/init.scope");
}

TEST(ComputeCgroupLayoutTest, ParentArgumentAbsoluteAndRelative) {
  auto absolute = ComputeCgroupLayout(HybridFacts(), "/quilt");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->HierarchyOf(CgroupController::kMemory)->parent_dir,
            "/sys/fs/cgroup/memory/quilt");
  auto relative = ComputeCgroupLayout(HybridFacts(), "quilt");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ(relative->HierarchyOf(CgroupController::kMemory)->parent_dir,
            "/sys/fs/cgroup/memory/process_api/d5a1/quilt");
  EXPECT_EQ(relative->HierarchyOf(CgroupController::kPids)->parent_dir,
            "/sys/fs/cgroup/pids/quilt");
  EXPECT_EQ(ComputeCgroupLayout(HybridFacts(), "../x").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ComputeCgroupLayoutTest, SubtreeMountStripsRoot) {
  CgroupHostFacts facts = V2Facts();
  facts.mounts = {V2Mount("/sys/fs/cgroup", "/system.slice")};
  auto layout = ComputeCgroupLayout(facts, "");
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->hierarchies[0].parent_dir, "/sys/fs/cgroup/quiltd.service");
  EXPECT_FALSE(layout->hierarchies[0].mounted_from_root);
}

TEST(ComputeCgroupLayoutTest, NoCgroupsAtAll) {
  auto layout = ComputeCgroupLayout(CgroupHostFacts{}, "");
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->mode, CgroupMode::kV1);
  EXPECT_TRUE(layout->hierarchies.empty());
}

TEST(PathWithinMountTest, Cases) {
  EXPECT_EQ(*PathWithinMount("/a/b", "/"), "/a/b");
  EXPECT_EQ(*PathWithinMount("/a/b", "/a"), "/b");
  EXPECT_EQ(*PathWithinMount("/a", "/a"), "/");
  EXPECT_EQ(PathWithinMount("/ab", "/a").status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ResolveParentPathTest, Cases) {
  EXPECT_EQ(*ResolveParentPath("/own", ""), "/own");
  EXPECT_EQ(*ResolveParentPath("/own", "/quilt/"), "/quilt");
  EXPECT_EQ(*ResolveParentPath("/own", "sub"), "/own/sub");
  EXPECT_EQ(*ResolveParentPath("/", "sub"), "/sub");
  EXPECT_FALSE(ResolveParentPath("/own", "a/../../b").ok());
  EXPECT_FALSE(ResolveParentPath("/own", "/./x").ok());
}

TEST(CpuQuotaMicrosTest, ScalesByPeriodWithKernelMinimum) {
  EXPECT_EQ(CpuQuotaMicros(0.5), 50000);
  EXPECT_EQ(CpuQuotaMicros(2), 200000);
  EXPECT_EQ(CpuQuotaMicros(1.234567), 123457);
  EXPECT_EQ(CpuQuotaMicros(0.001), kMinCpuQuotaMicros);
}

MATCHER_P4(IsWrite, controller, file, value, optional, "") {
  return arg.controller == controller && arg.file == file && arg.value == value &&
         arg.skip_if_absent == optional;
}

TEST(PlanLimitWritesTest, V1OrderMemoryBeforeMemswPeriodBeforeQuota) {
  auto layout = ComputeCgroupLayout(HybridFacts(), "");
  ASSERT_TRUE(layout.ok());
  auto writes = PlanLimitWrites({32 << 20, 0.5, 5}, *layout);
  ASSERT_TRUE(writes.ok()) << writes.status();
  using C = CgroupController;
  EXPECT_THAT(*writes,
              ElementsAre(IsWrite(C::kMemory, "memory.limit_in_bytes", "33554432", false),
                          IsWrite(C::kMemory, "memory.memsw.limit_in_bytes", "33554432", true),
                          IsWrite(C::kCpu, "cpu.cfs_period_us", "100000", false),
                          IsWrite(C::kCpu, "cpu.cfs_quota_us", "50000", false),
                          IsWrite(C::kPids, "pids.max", "5", false)));
}

TEST(PlanLimitWritesTest, V2FilesAndValues) {
  auto layout = ComputeCgroupLayout(V2Facts(), "");
  ASSERT_TRUE(layout.ok());
  auto writes = PlanLimitWrites({1 << 30, 1.5, 100}, *layout);
  ASSERT_TRUE(writes.ok()) << writes.status();
  using C = CgroupController;
  EXPECT_THAT(*writes, ElementsAre(IsWrite(C::kMemory, "memory.max", "1073741824", false),
                                   IsWrite(C::kMemory, "memory.swap.max", "0", true),
                                   IsWrite(C::kCpu, "cpu.max", "150000 100000", false),
                                   IsWrite(C::kPids, "pids.max", "100", false)));
}

TEST(PlanLimitWritesTest, NoLimitsNoWrites) {
  auto layout = ComputeCgroupLayout(V2Facts(), "");
  ASSERT_TRUE(layout.ok());
  EXPECT_TRUE(PlanLimitWrites({}, *layout).value().empty());
}

TEST(PlanLimitWritesTest, UnavailableControllerIsInvalidArgument) {
  CgroupHostFacts facts = V2Facts();
  facts.v2_root_controllers = {"pids"};
  auto layout = ComputeCgroupLayout(facts, "");
  ASSERT_TRUE(layout.ok());
  auto memory = PlanLimitWrites({1 << 20, 0, 0}, *layout);
  EXPECT_EQ(memory.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(memory.status().message(),
            "memory limit: memory controller not available on this host");
  auto cpu = PlanLimitWrites({0, 1, 0}, *layout);
  EXPECT_THAT(std::string(cpu.status().message()), HasSubstr("cpu controller not available"));
  EXPECT_TRUE(PlanLimitWrites({0, 0, 10}, *layout).ok());
}

TEST(PlanLimitWritesTest, RejectsNegativeAndAbsurdValues) {
  auto layout = ComputeCgroupLayout(HybridFacts(), "");
  ASSERT_TRUE(layout.ok());
  EXPECT_FALSE(PlanLimitWrites({-1, 0, 0}, *layout).ok());
  EXPECT_FALSE(PlanLimitWrites({0, -0.5, 0}, *layout).ok());
  EXPECT_FALSE(PlanLimitWrites({0, 1e9, 0}, *layout).ok());
  EXPECT_FALSE(PlanLimitWrites({0, 0, -3}, *layout).ok());
}

TEST(PlanV2SubtreeTest, NothingMissingNothingToDo) {
  auto step = PlanV2Subtree({"memory", "pids"}, {"cpu", "memory", "pids"}, {42}, 42, false);
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(step->move_self_to_leaf);
  EXPECT_EQ(step->subtree_control, "");
}

TEST(PlanV2SubtreeTest, EmptyParentJustEnables) {
  auto step = PlanV2Subtree({"memory", "cpu", "pids"}, {"memory"}, {}, 42, false);
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(step->move_self_to_leaf);
  EXPECT_EQ(step->subtree_control, "+cpu +pids");
}

TEST(PlanV2SubtreeTest, QuiltdAloneInParentMovesItself) {
  auto step = PlanV2Subtree({"memory"}, {}, {42}, 42, false);
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step->move_self_to_leaf);
  EXPECT_EQ(step->subtree_control, "+memory");
}

TEST(PlanV2SubtreeTest, OtherProcessesInParentAreNeverMoved) {
  auto step = PlanV2Subtree({"memory"}, {}, {42, 43}, 42, false);
  EXPECT_EQ(step.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PlanV2SubtreeTest, RootCgroupIsExempt) {
  auto step = PlanV2Subtree({"pids"}, {}, {1, 2, 42}, 42, true);
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(step->move_self_to_leaf);
  EXPECT_EQ(step->subtree_control, "+pids");
}

TEST(MemoryLimitOrZeroTest, V1UnlimitedIsZero) {
  EXPECT_EQ(MemoryLimitOrZero(9223372036854771712), 0);
  EXPECT_EQ(MemoryLimitOrZero(33554432), 33554432);
  EXPECT_EQ(MemoryLimitOrZero(0), 0);
}

}  // namespace
}  // namespace quilt
