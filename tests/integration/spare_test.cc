// Spares (quiltd/runtime/spare_pool.h): prestarted monitors whose init waits in fresh
// namespaces and cgroups for a container. These tests watch the spares themselves; the other
// suites run their default containers on them.
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/fs.h"
#include "gmock/gmock.h"
#include "tests/integration/process_probe.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::string text;
  if (FILE* f = fopen(path.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    fclose(f);
  }
  return text;
}

int64_t ReadNumber(const std::string& path) {
  int64_t value = -1;
  EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadText(path)), &value)) << path;
  return value;
}

bool Eventually(const std::function<bool()>& check,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
}

class SpareTest : public QuiltdTest {
 protected:
  void SetUp() override {
    QuiltdTest::SetUp();
    // Spares exist only where every cgroup controller is v1 (a pure v2 host places an init
    // with CLONE_INTO_CGROUP, which needs no spare).
    if (CgroupFileOf(getpid(), "memory.limit_in_bytes").empty()) {
      GTEST_SKIP() << "spares need v1 cgroups; on pure v2 every start is cold";
    }
  }

  bool TwoSparesReady() const { return SpareMonitors().size() == 2 && ReadySpares() == 2; }

  // Spares whose init holds its staged kernel file systems (sandbox.h).
  size_t StagedSpares() const {
    size_t staged = 0;
    for (pid_t monitor : SpareMonitors()) {
      for (pid_t init : ChildrenOf(monitor)) {
        const std::string mounts = ReadText(absl::StrCat("/proc/", init, "/mountinfo"));
        if (absl::StrContains(mounts, "/.stage/proc ")) ++staged;
      }
    }
    return staged;
  }

  // Starts one container on a spare and one cold, both listing their mounts (mount point,
  // options, file system type; sorted, as moving the staged trees reorders the table), and
  // expects the two lists equal and complete.
  void ExpectWarmMountsLikeCold() {
    const std::vector<pid_t> spares = SpareMonitors();
    const std::string list =
        "awk '{print $5, $6, $(NF-2)}' /proc/self/mountinfo | sort; echo listed; sleep 30";
    v1::Container warm = Run(Spec({"sh", "-c", list}));
    v1::ContainerSpec cold_spec = Spec({"sh", "-c", list});
    cold_spec.set_stdin_open(true);  // a spare has no stdin pipe
    v1::Container cold = Run(cold_spec);
    ASSERT_EQ(warm.state(), v1::CONTAINER_STATE_RUNNING) << warm.message();
    ASSERT_EQ(cold.state(), v1::CONTAINER_STATE_RUNNING) << cold.message();
    EXPECT_THAT(spares, ::testing::Contains(ParentOf(warm.pid()))) << "not started on a spare";
    EXPECT_FALSE(IsSpare(ParentOf(cold.pid())));
    ASSERT_TRUE(WaitForLog(warm.id(), "listed"));
    ASSERT_TRUE(WaitForLog(cold.id(), "listed"));
    const std::string mounts = Logs(warm.id());
    EXPECT_EQ(mounts, Logs(cold.id()));
    for (const char* line :
         {"/proc rw,nosuid,nodev,noexec,relatime proc", "/proc/keys ", "/proc/acpi ro,",
          "/proc/sys ro,", "/dev/pts ", "/dev/null ", "/sys ro,", "/sys/firmware ro,"}) {
      EXPECT_THAT(mounts, ::testing::HasSubstr(line));
    }
    EXPECT_EQ(Cli({"stop", "-t", "0", warm.id()}).exit_code, 0);
    EXPECT_EQ(Cli({"stop", "-t", "0", cold.id()}).exit_code, 0);
  }

  // Entries of <state>/spares (one per spare quiltd holds).
  std::vector<std::string> SpareDirs() const {
    std::vector<std::string> dirs =
        ListDir(state_dir_ + "/spares").value_or(std::vector<std::string>{});
    // Not a spare's: the directory their inits stage kernel file systems on.
    std::erase(dirs, ".stage");
    return dirs;
  }
};

TEST_F(SpareTest, DaemonKeepsTwoSparesInTheirOwnCgroups) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  EXPECT_FALSE(SpareCgroups().empty());
  EXPECT_THAT(ContainerCgroups(), ::testing::IsEmpty());
}

TEST_F(SpareTest, DefaultContainerStartsOnASpareWithItsOwnLimitsAndName) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  const std::vector<pid_t> spares = SpareMonitors();
  v1::ContainerSpec spec = Spec({"sh", "-c", "hostname; cat /proc/1/cgroup; sleep 30"});
  spec.set_hostname("onspare");
  spec.mutable_resources()->set_memory_bytes(64 << 20);
  spec.mutable_resources()->set_pids_max(50);
  v1::Container c = Run(spec);
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();
  const pid_t monitor = ParentOf(c.pid());
  EXPECT_THAT(spares, ::testing::Contains(monitor)) << "not started on a spare";
  // Claimed, it reads as a cold monitor (recovery finds monitors by their command line).
  EXPECT_FALSE(IsSpare(monitor));
  const std::string cmdline = ReadText(absl::StrCat("/proc/", monitor, "/cmdline"));
  EXPECT_TRUE(absl::StartsWith(
      cmdline, std::string("quilt-monitor\0", 14) + state_dir_ + "/containers/" + c.id() + '\0'))
      << cmdline;

  // The spare's cgroups became the container's, with the container's limits.
  const std::string cgroups = ReadText(absl::StrCat("/proc/", c.pid(), "/cgroup"));
  EXPECT_THAT(cgroups, ::testing::HasSubstr("/quilt-" + c.id()));
  EXPECT_THAT(cgroups, ::testing::Not(::testing::HasSubstr("quilt-spare-")));
  EXPECT_EQ(ReadNumber(CgroupFileOf(c.pid(), "memory.limit_in_bytes")), 64 << 20);
  EXPECT_EQ(ReadNumber(CgroupFileOf(c.pid(), "pids.max")), 50);
  // The last line of /proc/1/cgroup is the v2 one.
  ASSERT_TRUE(WaitForLog(c.id(), "0::/"));
  EXPECT_THAT(Logs(c.id()), ::testing::StartsWith("onspare\n"));
  // Its cgroup namespace is rooted at its own cgroup, as for a cold start.
  EXPECT_THAT(Logs(c.id()), ::testing::HasSubstr("memory:/\n"));

  // The pool refills while the container runs.
  EXPECT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  EXPECT_EQ(Cli({"stop", "-t", "0", c.id()}).exit_code, 0);
}

// A spare's init mounts /proc, /dev and /sys before its container is known and moves them
// into the rootfs at the claim: the container must see the very mounts a cold start makes,
// masked and read-only kernel paths included.
TEST_F(SpareTest, ASpareMountsWhatAColdStartMounts) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady() && StagedSpares() == 2; }));
  ExpectWarmMountsLikeCold();
}

// The stage's directory removed under the spares detaches what they staged there: a claimed
// spare then mounts everything itself, and its container is the same.
TEST_F(SpareTest, ASpareWhoseStageWasRemovedMountsAtTheClaim) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady() && StagedSpares() == 2; }));
  ASSERT_EQ(rmdir((state_dir_ + "/spares/.stage").c_str()), 0) << strerror(errno);
  ASSERT_TRUE(Eventually([&] { return StagedSpares() == 0; }));
  ExpectWarmMountsLikeCold();
}

TEST_F(SpareTest, ContainersASpareDoesNotFitStartCold) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  v1::ContainerSpec host_network = Spec({"sleep", "30"});
  host_network.set_network(v1::NETWORK_MODE_HOST);
  v1::ContainerSpec piped_stdin = Spec({"sleep", "30"});
  piped_stdin.set_stdin_open(true);
  v1::ContainerSpec bind_mount = Spec({"sleep", "30"});
  v1::Mount* mount = bind_mount.add_mounts();
  mount->set_source(dir_);
  mount->set_destination("/host");
  mount->set_read_only(true);
  for (const v1::ContainerSpec& spec : {host_network, piped_stdin, bind_mount}) {
    v1::Container c = Run(spec);
    ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();
    const pid_t monitor = ParentOf(c.pid());
    EXPECT_FALSE(IsSpare(monitor)) << spec.ShortDebugString();
    EXPECT_THAT(ReadText(absl::StrCat("/proc/", monitor, "/cmdline")),
                ::testing::HasSubstr(c.id()));
    EXPECT_EQ(Cli({"stop", "-t", "0", c.id()}).exit_code, 0);
  }
  EXPECT_EQ(SpareMonitors().size(), 2u) << "a cold start takes no spare";
}

TEST_F(SpareTest, KilledSparesAreReplacedAndStartsGoOn) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  const size_t cgroups_of_two = SpareCgroups().size();
  const std::vector<pid_t> killed = SpareMonitors();
  for (pid_t monitor : killed) ASSERT_EQ(kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 3; ++i) {
    v1::Container done = WaitFor(Run(Spec({"true"})).id());
    EXPECT_EQ(done.state(), v1::CONTAINER_STATE_EXITED) << done.message();
    EXPECT_EQ(done.exit_code(), 0);
  }
  EXPECT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  for (pid_t monitor : killed) {
    EXPECT_THAT(SpareMonitors(), ::testing::Not(::testing::Contains(monitor)));
  }
  // Nothing of the killed ones is left: the cgroups and dirs of two spares.
  EXPECT_TRUE(Eventually([&] {
    return SpareCgroups().size() == cgroups_of_two && SpareDirs().size() == 2;
  })) << SpareCgroups().size()
      << " spare cgroups, " << SpareDirs().size() << " spare dirs";
}

TEST_F(SpareTest, SparesEndWithAKilledDaemonAndLeaveNothing) {
  ASSERT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  const std::vector<pid_t> spares = SpareMonitors();
  KillDaemon();
  // Their claim pipes closed with quiltd: each ends its init and removes its cgroups.
  EXPECT_TRUE(Eventually([&] {
    for (pid_t spare : spares) {
      if (IsSpare(spare)) return false;
    }
    return SpareCgroups().empty();
  }));
  StartDaemon();
  EXPECT_TRUE(Eventually([&] { return TwoSparesReady(); }));
  EXPECT_EQ(SpareDirs().size(), 2u) << "the dead spares' dirs were not removed";
  v1::Container done = WaitFor(Run(Spec({"true"})).id());
  EXPECT_EQ(done.exit_code(), 0);
}

TEST_F(SpareTest, PrestartZeroKeepsNone) {
  ASSERT_EQ(StopDaemon(), 0);
  StartDaemon({"--prestart", "0"});
  v1::Container c = Run(Spec({"sleep", "30"}));
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();
  EXPECT_FALSE(IsSpare(ParentOf(c.pid())));
  EXPECT_THAT(SpareMonitors(), ::testing::IsEmpty());
  EXPECT_THAT(SpareCgroups(), ::testing::IsEmpty());
  EXPECT_EQ(Cli({"stop", "-t", "0", c.id()}).exit_code, 0);
}

}  // namespace
}  // namespace quilt::testing
