#include "quiltd/runtime/process_table.h"

#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kMarker[] = "/quilt-abc";

// A /proc of made-up processes in a temporary directory.
class ProcessTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/process-table-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    proc_ = tmpl;
  }
  void TearDown() override { EXPECT_TRUE(RemoveTree(proc_).ok()); }

  // stat fields from 3 on: state, ppid, then zeros but utime (14), stime (15) and rss (24).
  void AddProcess(int host_pid, int ns_pid, int host_ppid, const std::string& comm,
                  const std::string& cmdline, const std::string& cgroup, int uid = 0) {
    const std::string dir = absl::StrCat(proc_, "/", host_pid);
    ASSERT_TRUE(MakeDirs(dir, 0755).ok());
    std::string stat = absl::StrCat(host_pid, " (", comm, ") S ", host_ppid);
    for (int field = 5; field <= 30; ++field) {
      stat += field == 14 ? " 10" : field == 15 ? " 5" : field == 24 ? " 3" : " 0";
    }
    ASSERT_TRUE(WriteFileAtomically(dir + "/stat", stat + "\n").ok());
    ASSERT_TRUE(
        WriteFileAtomically(dir + "/status",
                            absl::StrCat("Name:\t", comm, "\nUid:\t", uid, "\t", uid, "\t", uid,
                                         "\t", uid, "\nNSpid:\t", host_pid, "\t", ns_pid, "\n"))
            .ok());
    ASSERT_TRUE(WriteFileAtomically(dir + "/cmdline", cmdline).ok());
    ASSERT_TRUE(WriteFileAtomically(dir + "/cgroup", cgroup).ok());
  }

  std::string proc_;
};

TEST_F(ProcessTableTest, ReadsProcessesAndResolvesParentsInTheContainer) {
  const std::string in = "4:memory:/parent/quilt-abc\n0::/parent/quilt-abc/nested\n";
  AddProcess(101, 2, 100, "a (b) c", std::string("sh\0-c\0echo hi\0", 14), in, 1000);
  // A retitled process pads its command line with NULs.
  AddProcess(100, 1, 50, "quilt-init", std::string("quilt-monitor\0/b\0\0\0\0", 20), in);
  const std::vector<ProcessInfo> processes = DescribeProcesses({101, 100}, kMarker, proc_);
  ASSERT_EQ(processes.size(), 2u);
  const ProcessInfo& init = processes[0];
  EXPECT_EQ(init.pid, 1);
  EXPECT_EQ(init.host_pid, 100);
  EXPECT_EQ(init.ppid, 0);  // its parent (the monitor) is outside the container
  EXPECT_EQ(init.name, "quilt-init");
  EXPECT_THAT(init.argv, ElementsAre("quilt-monitor", "/b"));
  const ProcessInfo& shell = processes[1];
  EXPECT_EQ(shell.pid, 2);
  EXPECT_EQ(shell.ppid, 1);
  EXPECT_EQ(shell.host_ppid, 100);
  EXPECT_EQ(shell.uid, 1000u);
  EXPECT_EQ(shell.state, 'S');
  EXPECT_EQ(shell.name, "a (b) c");
  EXPECT_THAT(shell.argv, ElementsAre("sh", "-c", "echo hi"));
  EXPECT_EQ(shell.cpu_ns, 15 * (1'000'000'000 / sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(shell.rss_bytes, 3 * sysconf(_SC_PAGESIZE));
}

TEST_F(ProcessTableTest, LeavesOutGoneProcessesAndPidsReusedOutside) {
  AddProcess(200, 1, 1, "sleep", std::string("sleep\0", 6), "0::/parent/quilt-abc\n");
  // Its pid now belongs to a process of another container (or of the host).
  AddProcess(201, 7, 1, "other", std::string("other\0", 6), "0::/parent/quilt-abcdef0\n");
  AddProcess(202, 8, 1, "host", std::string("host\0", 5), "0::/system.slice\n");
  const std::vector<ProcessInfo> processes =
      DescribeProcesses({200, 201, 202, 203}, kMarker, proc_);
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes[0].host_pid, 200);
}

TEST_F(ProcessTableTest, ZombieHasNoCommandLine) {
  AddProcess(300, 3, 1, "sh", "", "0::/parent/quilt-abc\n");
  const std::vector<ProcessInfo> processes = DescribeProcesses({300}, kMarker, proc_);
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_THAT(processes[0].argv, IsEmpty());
  EXPECT_EQ(processes[0].name, "sh");
}

TEST(ProcessTableRealTest, DescribesThisProcess) {
  // An empty marker names every cgroup.
  const std::vector<ProcessInfo> processes = DescribeProcesses({getpid()}, "");
  ASSERT_EQ(processes.size(), 1u);
  EXPECT_EQ(processes[0].host_pid, getpid());
  EXPECT_EQ(processes[0].host_ppid, getppid());
  EXPECT_EQ(processes[0].uid, getuid());
  EXPECT_EQ(processes[0].state, 'R');
  EXPECT_GT(processes[0].rss_bytes, 0);
  ASSERT_FALSE(processes[0].argv.empty());
  EXPECT_NE(processes[0].argv[0].find("runtime_test"), std::string::npos);
}

}  // namespace
}  // namespace quilt
