// Real cgroups on this host (needs root). Every test works below a parent of its own,
// "cgtest-<pid>" under the cgroups this process is in, and TearDown checks that no container
// cgroup is left and removes that parent. The same tests run on this hybrid host (v1
// controllers) and on a pure cgroup v2 kernel (tests/vm/run).
#include "quiltd/cgroup/cgroup_manager.h"

#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/cgroup/cgroup_fs.h"
#include "quiltd/cgroup/cgroup_parse.h"

namespace quilt {
namespace {

using ::testing::Contains;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string DirOf(const std::string& procs_file) {
  return procs_file.substr(0, procs_file.rfind('/'));
}

int64_t ReadNumber(const std::string& path) {
  absl::StatusOr<std::string> text = ReadCgroupFile(path);
  EXPECT_TRUE(text.ok()) << text.status();
  if (!text.ok()) return -1;
  absl::StatusOr<int64_t> value = ParseCgroupInt(*text);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : -1;
}

// True when /sys/fs/cgroup is the cgroup2 (unified) mount: a pure v2 host.
bool HostIsPureV2() {
  struct statfs fs;
  return statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

// The placement dir serving `controller`: the v1 hierarchy whose path contains
// `/<controller>/`, else the v2 dir.
std::string ControllerDir(const CgroupPlacement& placement, const std::string& controller) {
  for (const std::string& procs : placement.procs_files) {
    if (absl::StrContains(procs, absl::StrCat("/", controller, "/"))) return DirOf(procs);
  }
  if (!placement.v2_dir.empty()) return placement.v2_dir;
  ADD_FAILURE() << "no " << controller << " hierarchy in placement";
  return "";
}

// This process's own cgroup directory in the v2 hierarchy mounted at /sys/fs/cgroup.
std::string OwnV2Dir() {
  std::string self = ReadCgroupFile("/proc/self/cgroup").value_or("");
  size_t start = self.find("0::");
  if (start == std::string::npos) return "";
  std::string path = self.substr(start + 3, self.find('\n', start) - start - 3);
  return path == "/" ? "/sys/fs/cgroup" : "/sys/fs/cgroup" + path;
}

// Every cgroup.procs file of the placement, v1 and v2.
std::vector<std::string> ProcsFiles(const CgroupPlacement& placement) {
  std::vector<std::string> files = placement.procs_files;
  if (!placement.v2_dir.empty()) files.push_back(placement.v2_dir + "/cgroup.procs");
  return files;
}

// The memory limit file of the placement: v1 or v2 name.
std::string MemoryLimitFile(const CgroupPlacement& placement) {
  std::string dir = ControllerDir(placement, "memory");
  return dir + (dir == placement.v2_dir ? "/memory.max" : "/memory.limit_in_bytes");
}

// A forked child that runs `body` only once it has been placed into the container's cgroups;
// killed and reaped on destruction unless already waited for.
class PlacedChild {
 public:
  PlacedChild(const CgroupPlacement& placement, const std::function<int()>& body) {
    int fds[2];
    if (pipe(fds) != 0) {
      ADD_FAILURE() << "pipe: " << std::strerror(errno);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(fds[1]);
      char byte;
      if (read(fds[0], &byte, 1) != 1) _exit(126);
      _exit(body());
    }
    close(fds[0]);
    // A v2 child could be cloned straight into its cgroup (CLONE_INTO_CGROUP, as the monitor
    // does); a procs write places it the same way on both versions.
    for (const std::string& procs : ProcsFiles(placement)) {
      absl::Status status = WriteCgroupFile(procs, absl::StrCat(pid_));
      EXPECT_TRUE(status.ok()) << status;
    }
    EXPECT_EQ(write(fds[1], "x", 1), 1);
    close(fds[1]);
  }
  ~PlacedChild() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  PlacedChild(const PlacedChild&) = delete;
  PlacedChild& operator=(const PlacedChild&) = delete;

  pid_t pid() const { return pid_; }

  // Waits for the child and returns its wait status.
  int Wait() {
    int status = 0;
    EXPECT_EQ(waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
};

class CgroupManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "creating cgroups needs root (CI runs as root)";
    auto manager = CgroupManager::Create(absl::StrCat("cgtest-", getpid()));
    ASSERT_TRUE(manager.ok()) << manager.status();
    manager_ = *std::move(manager);
  }

  void TearDown() override {
    if (manager_ == nullptr) return;
    for (const std::string& dir : manager_->ParentDirs()) {
      for (const std::string& child : ListCgroupChildren(dir)) {
        EXPECT_FALSE(absl::StartsWith(child, "quilt-")) << "left behind: " << dir << "/" << child;
      }
    }
    for (const std::string& id : manager_->ListContainers()) {
      EXPECT_TRUE(manager_->RemoveContainer(id).ok());
    }
    for (const std::string& dir : manager_->ParentDirs()) {
      EXPECT_TRUE(RemoveCgroupTree(dir, absl::Seconds(1)).ok()) << dir;
      EXPECT_FALSE(Exists(dir)) << dir;
    }
  }

  CgroupPlacement MustCreate(const std::string& id, const CgroupLimits& limits) {
    auto placement = manager_->CreateContainer(id, limits);
    EXPECT_TRUE(placement.ok()) << placement.status();
    return placement.ok() ? *placement : CgroupPlacement{};
  }

  std::unique_ptr<CgroupManager> manager_;
};

TEST_F(CgroupManagerTest, ModeAndPlacementMatchTheHost) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {});
  if (HostIsPureV2()) {
    EXPECT_EQ(manager_->mode(), CgroupMode::kV2);
    EXPECT_EQ(manager_->ModeName(), "v2");
    EXPECT_TRUE(placement.procs_files.empty());
    EXPECT_TRUE(absl::EndsWith(placement.v2_dir, absl::StrCat("/quilt-", id))) << placement.v2_dir;
    // The limit files exist only where the parent enabled the controllers for its children.
    for (const char* file : {"/memory.max", "/cpu.max", "/pids.max"}) {
      EXPECT_TRUE(Exists(placement.v2_dir + file)) << placement.v2_dir << file;
    }
  } else {
    // This development host: memory, cpu, cpuacct and pids are separate v1 mounts.
    EXPECT_EQ(manager_->mode(), CgroupMode::kHybrid);
    EXPECT_EQ(manager_->ModeName(), "hybrid");
    EXPECT_EQ(placement.procs_files.size(), 4u);
    EXPECT_TRUE(placement.v2_dir.empty());
    for (const std::string& procs : placement.procs_files) {
      EXPECT_TRUE(Exists(procs)) << procs;
      EXPECT_TRUE(absl::EndsWith(DirOf(procs), absl::StrCat("/quilt-", id))) << procs;
    }
  }
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
}

TEST_F(CgroupManagerTest, LimitsAreWrittenToTheKernel) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {32 << 20, 0.5, 5});
  EXPECT_EQ(ReadNumber(MemoryLimitFile(placement)), 32 << 20);
  if (placement.v2_dir.empty()) {
    std::string memory = ControllerDir(placement, "memory");
    EXPECT_EQ(ReadNumber(memory + "/memory.memsw.limit_in_bytes"), 32 << 20);
    std::string cpu = ControllerDir(placement, "cpu");
    EXPECT_EQ(ReadNumber(cpu + "/cpu.cfs_period_us"), 100000);
    EXPECT_EQ(ReadNumber(cpu + "/cpu.cfs_quota_us"), 50000);
  } else {
    // No swap on top of the memory limit (the file is absent without swap accounting).
    if (Exists(placement.v2_dir + "/memory.swap.max")) {
      EXPECT_EQ(ReadNumber(placement.v2_dir + "/memory.swap.max"), 0);
    }
    EXPECT_EQ(ReadCgroupFile(placement.v2_dir + "/cpu.max").value_or(""), "50000 100000\n");
  }
  EXPECT_EQ(ReadNumber(ControllerDir(placement, "pids") + "/pids.max"), 5);
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
}

TEST_F(CgroupManagerTest, CreateIsExclusiveAndLeavesTheExistingGroupAlone) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {32 << 20, 0, 0});
  auto again = manager_->CreateContainer(id, {64 << 20, 0, 0});
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_EQ(ReadNumber(MemoryLimitFile(placement)), 32 << 20);
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
}

TEST_F(CgroupManagerTest, FailedCreateRemovesWhatItCreated) {
  std::string id = NewContainerId();
  CgroupPlacement probe = MustCreate(id, {});
  ASSERT_TRUE(manager_->RemoveContainer(id).ok());
  // A stale pids group alone (as after a crash) makes the create fail; on v1 it has already
  // made the memory and cpu groups, which must be rolled back (on v2 all share one dir).
  std::string pids = ControllerDir(probe, "pids");
  ASSERT_EQ(mkdir(pids.c_str(), 0755), 0);
  auto placement = manager_->CreateContainer(id, {32 << 20, 1, 10});
  EXPECT_EQ(placement.status().code(), absl::StatusCode::kAlreadyExists);
  for (const char* controller : {"memory", "cpu"}) {
    std::string dir = ControllerDir(probe, controller);
    if (dir != pids) {
      EXPECT_FALSE(Exists(dir)) << dir;
    }
  }
  EXPECT_THAT(manager_->ListContainers(), Contains(id));
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
  EXPECT_FALSE(Exists(pids));
}

TEST_F(CgroupManagerTest, InvalidIdIsRejected) {
  for (const std::string& id : {std::string("../escape"), std::string("abc"), std::string()}) {
    EXPECT_EQ(manager_->CreateContainer(id, {}).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(manager_->Stats(id).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(manager_->RemoveContainer(id).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(manager_->OomKills(id), 0);
  }
}

TEST_F(CgroupManagerTest, MemoryHogIsOomKilledAndCounted) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {32 << 20, 0, 0});
  EXPECT_EQ(manager_->OomKills(id), 0);
  PlacedChild hog(placement, [] {
    constexpr size_t kSize = 100 << 20;
    // volatile: the compiler may otherwise drop an allocation that is never read.
    auto* memory = static_cast<volatile char*>(malloc(kSize));
    if (memory == nullptr) return 2;
    for (size_t i = 0; i < kSize; i += 4096) memory[i] = 1;
    return 0;
  });
  int status = hog.Wait();
  ASSERT_TRUE(WIFSIGNALED(status)) << "hog exited with " << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_GE(manager_->OomKills(id), 1);
  auto stats = manager_->Stats(id);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->oom_kills, 1);
  EXPECT_GT(stats->memory_peak, 16 << 20);
  EXPECT_LE(stats->memory_peak, 32 << 20);
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
}

TEST_F(CgroupManagerTest, PidsLimitStopsForks) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {0, 0, 5});
  PlacedChild forker(placement, [] {
    int forked = 0;
    for (int i = 0; i < 10; ++i) {
      pid_t pid = fork();
      if (pid == 0) {
        pause();
        _exit(0);
      }
      if (pid < 0) return errno == EAGAIN ? forked : 100;
      ++forked;
    }
    return forked;
  });
  int status = forker.Wait();
  ASSERT_TRUE(WIFEXITED(status));
  // The forker itself is one of the 5 tasks.
  EXPECT_EQ(WEXITSTATUS(status), 4);
  // Its children are left behind; removal kills them.
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
}

TEST_F(CgroupManagerTest, StatsReportUsage) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {64 << 20, 1, 0});
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  PlacedChild worker(placement, [&ready] {
    close(ready[0]);
    constexpr size_t kSize = 8 << 20;
    auto* memory = static_cast<volatile char*>(malloc(kSize));
    if (memory == nullptr) return 2;
    for (size_t i = 0; i < kSize; i += 4096) memory[i] = 1;
    // Spin on CPU time, not wall time: the two cores here are shared with other builds.
    timespec used{};
    while (used.tv_sec == 0 && used.tv_nsec < 150'000'000) {
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &used);
    }
    if (write(ready[1], "x", 1) != 1) return 3;
    pause();
    return 0;
  });
  close(ready[1]);
  char byte;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  auto stats = manager_->Stats(id);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->memory_current, 8 << 20);
  EXPECT_GE(stats->memory_peak, stats->memory_current);
  EXPECT_EQ(stats->memory_limit, 64 << 20);
  EXPECT_GE(stats->cpu_usage_ns, 100'000'000);
  EXPECT_EQ(stats->pids_current, 1);
  EXPECT_EQ(stats->oom_kills, 0);
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
  EXPECT_EQ(manager_->Stats(id).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CgroupManagerTest, StatsWithoutLimitsReportZeroLimit) {
  std::string id = NewContainerId();
  MustCreate(id, {});
  auto stats = manager_->Stats(id);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->memory_limit, 0);
  EXPECT_EQ(stats->pids_current, 0);
  EXPECT_TRUE(manager_->RemoveContainer(id).ok());
}

TEST_F(CgroupManagerTest, RemoveKillsLeftoverProcessesAndRemovesEveryDir) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {});
  PlacedChild sleeper(placement, [] {
    pause();
    return 0;
  });
  std::string procs = ReadCgroupFile(ProcsFiles(placement)[0]).value_or("");
  ASSERT_EQ(procs, absl::StrCat(sleeper.pid(), "\n"));
  ASSERT_TRUE(manager_->RemoveContainer(id).ok());
  int status = sleeper.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  for (const std::string& file : ProcsFiles(placement)) EXPECT_FALSE(Exists(DirOf(file))) << file;
  EXPECT_THAT(manager_->ListContainers(), Not(Contains(id)));
  EXPECT_TRUE(manager_->RemoveContainer(id).ok()) << "removing a missing group is OK";
}

// An ended container's cgroups are empty and go with one rmdir each; these are not: a
// process sits in a child cgroup the container made (as it can in its cgroup namespace), and
// every hierarchy has that child. Remove still kills the process and removes every dir.
TEST_F(CgroupManagerTest, RemoveTakesChildCgroupsAndTheirProcesses) {
  std::string id = NewContainerId();
  CgroupPlacement placement = MustCreate(id, {});
  CgroupPlacement nested;
  for (const std::string& procs : ProcsFiles(placement)) {
    const std::string child = DirOf(procs) + "/inner";
    ASSERT_EQ(::mkdir(child.c_str(), 0755), 0) << child;
    nested.procs_files.push_back(child + "/cgroup.procs");
  }
  PlacedChild sleeper(nested, [] {
    pause();
    return 0;
  });
  ASSERT_TRUE(manager_->RemoveContainer(id).ok());
  int status = sleeper.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  for (const std::string& file : ProcsFiles(placement)) EXPECT_FALSE(Exists(DirOf(file))) << file;
  EXPECT_THAT(manager_->ListContainers(), Not(Contains(id)));
}

TEST_F(CgroupManagerTest, ListContainersFindsCreatedIds) {
  std::string a = NewContainerId();
  std::string b = NewContainerId();
  MustCreate(a, {});
  MustCreate(b, {});
  std::vector<std::string> ids = manager_->ListContainers();
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_THAT(ids, Contains(a));
  EXPECT_THAT(ids, Contains(b));
  EXPECT_TRUE(manager_->RemoveContainer(a).ok());
  EXPECT_TRUE(manager_->RemoveContainer(b).ok());
  EXPECT_TRUE(manager_->ListContainers().empty());
}

TEST_F(CgroupManagerTest, SpareIsAdoptedWithItsProcessAndGetsTheLimits) {
  // Decided by the host, not by the code under test: a regression that lost spares on
  // this hybrid host must fail here. A pure v2 host must refuse them (CLONE_INTO_CGROUP
  // places an init without a cgroup.procs write, and v2 cgroups cannot be renamed).
  if (HostIsPureV2()) {
    EXPECT_FALSE(manager_->SupportsSpares());
    EXPECT_TRUE(absl::IsFailedPrecondition(manager_->CreateSpare("0123abcd").status()));
    return;
  }
  ASSERT_TRUE(manager_->SupportsSpares());
  absl::StatusOr<CgroupPlacement> spare = manager_->CreateSpare("0123abcd");
  ASSERT_TRUE(spare.ok()) << spare.status();
  EXPECT_TRUE(spare->v2_dir.empty());
  PlacedChild sleeper(*spare, [] {
    pause();
    return 0;
  });
  const std::string id = NewContainerId();
  ASSERT_TRUE(manager_->AdoptSpare("0123abcd", id, {32 << 20, 0, 7}).ok());
  // Renamed in every hierarchy, the process still inside, the limits written.
  for (const std::string& procs : spare->procs_files) {
    EXPECT_FALSE(Exists(DirOf(procs))) << procs;
    const std::string adopted = absl::StrCat(DirOf(DirOf(procs)), "/quilt-", id, "/cgroup.procs");
    EXPECT_EQ(ReadCgroupFile(adopted).value_or(""), absl::StrCat(sleeper.pid(), "\n")) << adopted;
  }
  const std::string memory_parent = DirOf(ControllerDir(*spare, "memory"));
  EXPECT_EQ(ReadNumber(absl::StrCat(memory_parent, "/quilt-", id, "/memory.limit_in_bytes")),
            32 << 20);
  const std::string pids_parent = DirOf(ControllerDir(*spare, "pids"));
  EXPECT_EQ(ReadNumber(absl::StrCat(pids_parent, "/quilt-", id, "/pids.max")), 7);
  EXPECT_THAT(manager_->ListContainers(), Contains(id));
  ASSERT_TRUE(manager_->RemoveContainer(id).ok());
  int status = sleeper.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(CgroupManagerTest, RemoveSpareKillsItsProcessAndRemovesEveryDir) {
  if (HostIsPureV2()) {
    // No spare can exist there; removing a missing one still succeeds (start-up cleanup).
    EXPECT_TRUE(absl::IsFailedPrecondition(manager_->CreateSpare("feed-1").status()));
    EXPECT_TRUE(manager_->RemoveSpare("feed-1").ok());
    return;
  }
  ASSERT_TRUE(manager_->SupportsSpares());
  absl::StatusOr<CgroupPlacement> spare = manager_->CreateSpare("feed-1");
  ASSERT_TRUE(spare.ok()) << spare.status();
  PlacedChild sleeper(*spare, [] {
    pause();
    return 0;
  });
  ASSERT_TRUE(manager_->RemoveSpare("feed-1").ok());
  int status = sleeper.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  for (const std::string& procs : spare->procs_files) EXPECT_FALSE(Exists(DirOf(procs))) << procs;
  EXPECT_TRUE(manager_->RemoveSpare("feed-1").ok()) << "removing a missing spare is OK";
  EXPECT_TRUE(manager_->ListContainers().empty()) << "a spare is no container";
}

TEST_F(CgroupManagerTest, SpareNamesThatCouldEscapeAreRejected) {
  for (const char* name : {"", "../x", "a/b", "UPPER", "spare name"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(manager_->CreateSpare(name).status())) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(manager_->RemoveSpare(name))) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(manager_->AdoptSpare(name, NewContainerId(), {}))) << name;
  }
}

// The delegation case on v2 (systemd's Delegate=yes): quiltd starts inside the cgroup that
// becomes the parent of its containers. Runs in a child, since it moves the calling process.
TEST(CgroupV2DelegationTest, QuiltdInItsParentMovesOnlyItselfToALeaf) {
  if (!HostIsPureV2()) GTEST_SKIP() << "needs a pure cgroup v2 host (tests/vm/run)";
  const std::string parent = absl::StrCat(OwnV2Dir(), "/cgtest-delegated-", getpid());
  ASSERT_EQ(mkdir(parent.c_str(), 0755), 0) << parent << ": " << std::strerror(errno);
  const pid_t child = fork();
  if (child == 0) {
    if (!MoveProcess(parent, getpid()).ok()) _exit(10);
    auto manager = CgroupManager::Create("");
    if (!manager.ok()) _exit(11);
    std::string id = NewContainerId();
    auto placement = (*manager)->CreateContainer(id, {32 << 20, 0.5, 5});
    if (!placement.ok()) _exit(12);
    if (placement->v2_dir != absl::StrCat(parent, "/quilt-", id)) _exit(13);
    if (!Exists(placement->v2_dir + "/memory.max")) _exit(14);
    if (OwnV2Dir() != parent + "/quiltd-daemon") _exit(15);
    _exit((*manager)->RemoveContainer(id).ok() ? 0 : 16);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "step failed (10 move, 11 create manager, 12 create container, 13 placement, 14 no "
         "memory controller, 15 quiltd not in the leaf, 16 remove): "
      << status;
  std::string enabled = ReadCgroupFile(parent + "/cgroup.subtree_control").value_or("");
  EXPECT_THAT(ParseControllerList(enabled), UnorderedElementsAre("cpu", "memory", "pids"));
  EXPECT_EQ(ListCgroupChildren(parent), std::vector<std::string>{"quiltd-daemon"});
  EXPECT_TRUE(RemoveCgroupTree(parent, absl::Seconds(1)).ok());
}

// Quilt never moves a process it does not own: another process in the parent makes Create
// fail and leaves everything as it was.
TEST(CgroupV2DelegationTest, ParentHoldingAnotherProcessIsRefused) {
  if (!HostIsPureV2()) GTEST_SKIP() << "needs a pure cgroup v2 host (tests/vm/run)";
  const std::string parent = absl::StrCat(OwnV2Dir(), "/cgtest-shared-", getpid());
  ASSERT_EQ(mkdir(parent.c_str(), 0755), 0) << parent << ": " << std::strerror(errno);
  const pid_t other = fork();
  if (other == 0) {
    pause();
    _exit(0);
  }
  EXPECT_TRUE(MoveProcess(parent, other).ok());
  const pid_t child = fork();
  if (child == 0) {
    if (!MoveProcess(parent, getpid()).ok()) _exit(10);
    auto manager = CgroupManager::Create("");
    if (manager.status().code() != absl::StatusCode::kFailedPrecondition) _exit(11);
    _exit(OwnV2Dir() == parent ? 0 : 12);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "step failed (10 move, 11 create did not fail as expected, 12 moved itself): " << status;
  EXPECT_EQ(ReadCgroupFile(parent + "/cgroup.procs").value_or(""), absl::StrCat(other, "\n"));
  EXPECT_EQ(ReadCgroupFile(parent + "/cgroup.subtree_control").value_or("?"), "");
  EXPECT_TRUE(ListCgroupChildren(parent).empty());
  kill(other, SIGKILL);
  waitpid(other, nullptr, 0);
  EXPECT_TRUE(RemoveCgroupTree(parent, absl::Seconds(1)).ok());
}

// A quiltd in the v2 root cgroup (as in a VM or a container's init) puts containers directly
// below it: the root may enable controllers although processes live in it.
TEST(CgroupV2DelegationTest, ContainersDirectlyBelowTheRootCgroup) {
  if (!HostIsPureV2() || OwnV2Dir() != "/sys/fs/cgroup") {
    GTEST_SKIP() << "needs to run in the root cgroup of a pure v2 host (tests/vm/run)";
  }
  auto manager = CgroupManager::Create("");
  ASSERT_TRUE(manager.ok()) << manager.status();
  std::string id = NewContainerId();
  auto placement = (*manager)->CreateContainer(id, {32 << 20, 0, 5});
  ASSERT_TRUE(placement.ok()) << placement.status();
  EXPECT_EQ(placement->v2_dir, absl::StrCat("/sys/fs/cgroup/quilt-", id));
  EXPECT_EQ(ReadNumber(placement->v2_dir + "/memory.max"), 32 << 20);
  EXPECT_EQ(ReadNumber(placement->v2_dir + "/pids.max"), 5);
  EXPECT_EQ(OwnV2Dir(), "/sys/fs/cgroup") << "quiltd must not move out of the root";
  EXPECT_TRUE((*manager)->RemoveContainer(id).ok());
  EXPECT_FALSE(Exists(placement->v2_dir));
}

}  // namespace
}  // namespace quilt
