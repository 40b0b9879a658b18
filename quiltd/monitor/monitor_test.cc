// Runs real containers with the built quilt-monitor (needs root: namespaces and mounts).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/log_record.h"
#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

struct Record {
  LogRecordHeader header;
  std::string data;
};

// A test-side reader of the log_record.h format.
std::vector<Record> ReadLog(const std::string& path) {
  std::string bytes = ReadFile(path);
  std::vector<Record> records;
  size_t pos = 0;
  while (pos + kLogHeaderSize <= bytes.size()) {
    Record record;
    EXPECT_TRUE(
        DecodeLogHeader(reinterpret_cast<const uint8_t*>(bytes.data() + pos), &record.header));
    pos += kLogHeaderSize;
    EXPECT_LE(pos + record.header.length, bytes.size());
    record.data = bytes.substr(pos, record.header.length);
    pos += record.header.length;
    records.push_back(std::move(record));
  }
  EXPECT_EQ(pos, bytes.size()) << "trailing partial record";
  return records;
}

std::string Joined(const std::vector<Record>& records, LogStreamId stream, bool setup) {
  std::string out;
  for (const Record& r : records) {
    bool is_setup = (r.header.flags & kLogFlagSetup) != 0;
    if (r.header.stream == static_cast<uint8_t>(stream) && is_setup == setup) out += r.data;
  }
  return out;
}

// A busybox-static image shared by all tests as the overlay's lower layer.
class MonitorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/quilt-monitor-image-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    image_dir_ = new std::string(tmpl);
    fs::create_directories(*image_dir_ + "/bin");
    fs::create_directories(*image_dir_ + "/etc");
    fs::create_directories(*image_dir_ + "/tmp");
    fs::copy_file("/bin/busybox", *image_dir_ + "/bin/busybox");
    FILE* list = popen("/bin/busybox --list", "r");
    ASSERT_NE(list, nullptr);
    char name[256];
    while (fgets(name, sizeof(name), list) != nullptr) {
      std::string applet(name, strcspn(name, "\n"));
      if (applet != "busybox") fs::create_symlink("busybox", *image_dir_ + "/bin/" + applet);
    }
    pclose(list);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*image_dir_);
    delete image_dir_;
  }

  void SetUp() override { mountinfo_before_ = ReadFile("/proc/self/mountinfo"); }
  void TearDown() override {
    EXPECT_EQ(ReadFile("/proc/self/mountinfo"), mountinfo_before_) << "a mount leaked";
  }

  static std::string* image_dir_;
  std::string mountinfo_before_;
};
std::string* MonitorTest::image_dir_ = nullptr;

// One container: its bundle, the monitor process and what it reported.
class Container {
 public:
  explicit Container(const std::string& image_dir) {
    char tmpl[] = "/tmp/quilt-monitor-test-XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* sub : {"upper", "work", "rootfs", "bundle"}) {
      fs::create_directories(dir_ + "/" + sub);
    }
    config.container_id = fs::path(dir_).filename();
    config.bundle_dir = dir_ + "/bundle";
    config.lower_dirs = {image_dir};
    config.upper_dir = dir_ + "/upper";
    config.work_dir = dir_ + "/work";
    config.rootfs_dir = dir_ + "/rootfs";
    config.hostname = "quilt-test";
    config.env = {"PATH=/bin", "HOME=/"};
    config.log_path = config.bundle_dir + "/log";
    config.state_path = config.bundle_dir + "/state.json";
    config.exit_path = config.bundle_dir + "/exit.json";
  }
  ~Container() {
    if (monitor_pid_ > 0) {
      kill(monitor_pid_, SIGKILL);
      waitpid(monitor_pid_, nullptr, 0);
    }
    fs::remove_all(dir_);
  }

  const std::string& dir() const { return dir_; }

  // Spawns the monitor with a start pipe on fd 3, like quiltd does.
  void Spawn() {
    WriteFile(config.bundle_dir + "/config.json", SerializeMonitorConfig(config));
    int start[2];
    ASSERT_EQ(pipe2(start, O_CLOEXEC), 0);
    std::string monitor_log = config.bundle_dir + "/monitor.log";
    monitor_pid_ = fork();
    ASSERT_GE(monitor_pid_, 0);
    if (monitor_pid_ == 0) {
      int null_fd = open("/dev/null", O_RDWR);
      int log_fd = open(monitor_log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(null_fd, 0);
      dup2(null_fd, 1);
      dup2(log_fd, 2);
      dup2(start[1], 3);
      if (file_size_limit > 0) {
        // Ignored, the signal stays ignored across exec: writes past the limit fail
        // with EFBIG instead of killing the monitor, as ENOSPC would on a full disk.
        signal(SIGXFSZ, SIG_IGN);
        rlimit limit{file_size_limit, file_size_limit};
        setrlimit(RLIMIT_FSIZE, &limit);
      }
      execl(QUILT_MONITOR_BINARY, QUILT_MONITOR_BINARY, config.bundle_dir.c_str(), nullptr);
      _exit(127);
    }
    close(start[1]);
    start_fd_ = start[0];
  }

  // Closes our end of the start pipe, as when quiltd dies before the report.
  void CloseStartPipe() { close(start_fd_); }

  // Reads the StartReport (EOF leaves kind 0).
  StartReport ReadStartReport() {
    StartReport report;
    pollfd p{start_fd_, POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 20000), 1) << "no start report within 20 s";
    EXPECT_EQ(read(start_fd_, &report, sizeof(report)), static_cast<ssize_t>(sizeof(report)))
        << MonitorLog();
    close(start_fd_);
    return report;
  }

  StartReport Start() {
    Spawn();
    return ReadStartReport();
  }

  // Waits for the monitor to exit and returns exit.json.
  MonitorExit Wait() {
    EXPECT_EQ(WaitStatus(), 0) << MonitorLog();
    absl::StatusOr<MonitorExit> exit = ParseMonitorExit(ReadFile(config.exit_path));
    EXPECT_TRUE(exit.ok()) << exit.status() << MonitorLog();
    return exit.ok() ? *exit : MonitorExit{};
  }

  // Waits for the monitor and returns its exit code.
  int WaitStatus() {
    int status = 0;
    EXPECT_EQ(waitpid(monitor_pid_, &status, 0), monitor_pid_);
    monitor_pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Runs to completion; expects a kRunning start.
  MonitorExit Run() {
    StartReport report = Start();
    EXPECT_EQ(report.kind, StartReport::kRunning) << DescribeStartFailure(report);
    return Wait();
  }

  std::vector<Record> Log() const { return ReadLog(config.log_path); }
  std::string Stdout() const { return Joined(Log(), LogStreamId::kStdout, false); }
  std::string Stderr() const { return Joined(Log(), LogStreamId::kStderr, false); }
  std::string MonitorLog() const { return ReadFile(config.bundle_dir + "/monitor.log"); }

  // Polls the log until stdout contains `text`.
  bool WaitForOutput(const std::string& text) {
    for (int i = 0; i < 500; ++i) {
      if (ReadFile(config.log_path).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  MonitorConfig config;
  rlim_t file_size_limit = 0;  // RLIMIT_FSIZE of the monitor (0: none)

 private:
  std::string dir_;
  pid_t monitor_pid_ = -1;
  int start_fd_ = -1;
};

std::vector<std::string> Sh(const std::string& script) { return {"sh", "-c", script}; }

TEST_F(MonitorTest, EchoHelloLogsStdoutAndExitsZero) {
  Container c(*image_dir_);
  c.config.argv = {"echo", "hello"};
  MonitorExit exit = c.Run();
  EXPECT_EQ(exit.reason, "Exited");
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_EQ(exit.signal, 0);
  EXPECT_GT(exit.finished_at_ns, 0);
  EXPECT_EQ(c.Stdout(), "hello\n");
  EXPECT_EQ(c.Stderr(), "");
  absl::StatusOr<MonitorState> state = ParseMonitorState(ReadFile(c.config.state_path));
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_GT(state->init_pid, 0);
  EXPECT_GT(state->monitor_pid, 0);
  EXPECT_LE(state->started_at_ns, exit.finished_at_ns);
}

TEST_F(MonitorTest, SeparatesStreamsAndReportsExitCode) {
  Container c(*image_dir_);
  c.config.argv = Sh("echo out; echo err >&2; exit 3");
  MonitorExit exit = c.Run();
  EXPECT_EQ(exit.reason, "Exited");
  EXPECT_EQ(exit.exit_code, 3);
  EXPECT_EQ(c.Stdout(), "out\n");
  EXPECT_EQ(c.Stderr(), "err\n");
  for (const Record& r : c.Log()) {
    EXPECT_GT(r.header.time_ns, 1600000000LL * 1000000000);
  }
}

TEST_F(MonitorTest, SetupCommandsRunInOrderTaggedBeforeWorkload) {
  Container c(*image_dir_);
  c.config.setup = {"echo one", "echo two >&2", "echo three > /tmp/setup-marker"};
  c.config.argv = Sh("cat /tmp/setup-marker; echo work");
  MonitorExit exit = c.Run();
  EXPECT_EQ(exit.exit_code, 0);
  std::vector<Record> log = c.Log();
  EXPECT_EQ(Joined(log, LogStreamId::kStdout, true), "one\n");
  EXPECT_EQ(Joined(log, LogStreamId::kStderr, true), "two\n");
  EXPECT_EQ(Joined(log, LogStreamId::kStdout, false), "three\nwork\n");
  size_t last_setup = 0;
  size_t first_workload = log.size();
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].header.flags & kLogFlagSetup)
      last_setup = i;
    else
      first_workload = std::min(first_workload, i);
  }
  EXPECT_LT(last_setup, first_workload);
}

TEST_F(MonitorTest, FailingSetupStopsBeforeWorkload) {
  Container c(*image_dir_);
  fs::create_directories(c.dir() + "/data");
  c.config.mounts = {{c.dir() + "/data", "/data", false}};
  c.config.setup = {"echo a", "exit 5", "echo never"};
  c.config.argv = Sh("touch /data/marker");
  StartReport report = c.Start();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kSetup));
  EXPECT_EQ(report.setup_index, 1);
  EXPECT_EQ(report.exit_code, 5);
  EXPECT_STREQ(report.detail, "exit 5");
  MonitorExit exit = c.Wait();
  EXPECT_EQ(exit.reason, "SetupFailed");
  EXPECT_EQ(exit.message, "setup command 2 (exit 5) exited with code 5");
  EXPECT_EQ(exit.exit_code, 5);
  EXPECT_FALSE(fs::exists(c.dir() + "/data/marker"));
  EXPECT_EQ(Joined(c.Log(), LogStreamId::kStdout, true), "a\n");
  EXPECT_FALSE(fs::exists(c.config.state_path));
}

TEST_F(MonitorTest, MissingCommandFailsAtExec) {
  Container c(*image_dir_);
  c.config.argv = {"no-such-command"};
  StartReport report = c.Start();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kExec));
  EXPECT_EQ(report.error, ENOENT);
  EXPECT_EQ(report.exit_code, 127);
  MonitorExit exit = c.Wait();
  EXPECT_EQ(exit.reason, "StartFailed");
  EXPECT_EQ(exit.exit_code, 127);
  EXPECT_EQ(exit.message, "exec: exec no-such-command: No such file or directory");
}

TEST_F(MonitorTest, NonExecutableFileIsPermissionDenied) {
  Container c(*image_dir_);
  c.config.argv = {"/etc/hostname-file"};
  fs::create_directories(c.dir() + "/upper/etc");
  WriteFile(c.dir() + "/upper/etc/hostname-file", "x");
  StartReport report = c.Start();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kExec));
  EXPECT_EQ(report.error, EACCES);
  EXPECT_EQ(report.exit_code, 126);
  EXPECT_EQ(c.Wait().exit_code, 126);
}

TEST_F(MonitorTest, MissingWorkingDirFailsAtExec) {
  Container c(*image_dir_);
  c.config.argv = {"true"};
  c.config.working_dir = "/nope";
  StartReport report = c.Start();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kExec));
  EXPECT_EQ(DescribeStartFailure(report),
            "exec: working directory /nope: No such file or directory");
  EXPECT_EQ(c.Wait().reason, "StartFailed");
}

TEST_F(MonitorTest, AppliesEnvWorkingDirAndIdentity) {
  Container c(*image_dir_);
  c.config.env = {"PATH=/bin", "GREETING=hi there"};
  c.config.working_dir = "/etc";
  c.config.uid = 1234;
  c.config.gid = 2345;
  c.config.additional_gids = {10, 20};
  c.config.argv = Sh("id -u; id -g; id -G; pwd; env | sort");
  EXPECT_EQ(c.Run().exit_code, 0);
  EXPECT_EQ(c.Stdout(),
            "1234\n2345\n2345 10 20\n/etc\nGREETING=hi there\nPATH=/bin\nPWD=/etc\nSHLVL=1\n");
}

TEST_F(MonitorTest, SetsHostname) {
  Container c(*image_dir_);
  c.config.hostname = "box-7";
  c.config.argv = {"hostname"};
  c.Run();
  EXPECT_EQ(c.Stdout(), "box-7\n");
}

TEST_F(MonitorTest, WorkloadSeesOnlyStdioFds) {
  Container c(*image_dir_);
  // ls itself opens one directory fd (3) to list /proc/self/fd.
  c.config.argv = {"ls", "/proc/self/fd"};
  c.Run();
  EXPECT_EQ(c.Stdout(), "0\n1\n2\n3\n");
}

TEST_F(MonitorTest, InitIsPidOneAndWorkloadIsNot) {
  Container c(*image_dir_);
  c.config.argv = Sh("cat /proc/1/comm; echo $$; ls /proc | grep -c '^[0-9]'");
  c.Run();
  // The init, this sh and the grep/ls pipeline: nothing of the host is visible.
  std::string out = c.Stdout();
  EXPECT_EQ(out.substr(0, out.find('\n', 11) + 1), "quilt-init\n2\n");
  EXPECT_LE(std::stoi(out.substr(out.rfind('\n', out.size() - 2) + 1)), 5) << out;
}

TEST_F(MonitorTest, NewNetworkHasOnlyLoopbackUp) {
  Container c(*image_dir_);
  c.config.argv = Sh("ls /sys/class/net; cat /sys/class/net/lo/flags");
  c.Run();
  EXPECT_EQ(c.Stdout(), "lo\n0x9\n");  // IFF_UP | IFF_LOOPBACK
}

TEST_F(MonitorTest, HostNetworkSharesInterfaces) {
  Container c(*image_dir_);
  c.config.new_network = false;
  c.config.argv = Sh("ls /sys/class/net | wc -l");
  c.Run();
  int count = 0;
  for (const auto& entry : fs::directory_iterator("/sys/class/net")) count += !entry.path().empty();
  EXPECT_EQ(std::stoi(c.Stdout()), count);
}

TEST_F(MonitorTest, ReadOnlyRootfsKeepsRwBindWritable) {
  Container c(*image_dir_);
  fs::create_directories(c.dir() + "/data");
  c.config.read_only_rootfs = true;
  c.config.mounts = {{c.dir() + "/data", "/data", false}};
  c.config.argv = Sh("touch /x 2>/dev/null && echo root-writable; touch /data/y && echo ok");
  c.Run();
  EXPECT_EQ(c.Stdout(), "ok\n");
  EXPECT_TRUE(fs::exists(c.dir() + "/data/y"));
}

TEST_F(MonitorTest, ReadOnlyBindRejectsWritesAndFileBindWorks) {
  Container c(*image_dir_);
  fs::create_directories(c.dir() + "/data");
  WriteFile(c.dir() + "/config.txt", "file-content");
  c.config.mounts = {{c.dir() + "/data", "/mnt/ro/data", true},
                     {c.dir() + "/config.txt", "/etc/app/config.txt", true}};
  c.config.argv = Sh("touch /mnt/ro/data/x 2>/dev/null || echo denied; cat /etc/app/config.txt");
  c.Run();
  EXPECT_EQ(c.Stdout(), "denied\nfile-content");
  EXPECT_FALSE(fs::exists(c.dir() + "/data/x"));
}

TEST_F(MonitorTest, SymlinkInImageCannotRedirectBindToHost) {
  Container c(*image_dir_);
  fs::create_directories(c.dir() + "/data");
  WriteFile(c.dir() + "/data/inside", "bound");
  std::string name = "quilt-escape-" + std::to_string(getpid());
  // /escape -> /etc in the image: must resolve to the rootfs's /etc, not the host's.
  fs::create_symlink("/etc", c.dir() + "/upper/escape");
  c.config.mounts = {{c.dir() + "/data", "/escape/" + name, false}};
  c.config.argv = {"cat", "/etc/" + name + "/inside"};
  EXPECT_EQ(c.Run().exit_code, 0);
  EXPECT_EQ(c.Stdout(), "bound");
  EXPECT_FALSE(fs::exists("/etc/" + name));
}

TEST_F(MonitorTest, ForwardsSigtermToWorkload) {
  Container c(*image_dir_);
  c.config.argv = Sh("trap 'exit 7' TERM; echo ready; while true; do sleep 0.1; done");
  StartReport report = c.Start();
  ASSERT_EQ(report.kind, StartReport::kRunning);
  ASSERT_TRUE(c.WaitForOutput("ready"));
  ASSERT_EQ(kill(report.init_pid, SIGTERM), 0);
  MonitorExit exit = c.Wait();
  EXPECT_EQ(exit.reason, "Exited");
  EXPECT_EQ(exit.exit_code, 7);
  EXPECT_EQ(exit.signal, 0);
}

TEST_F(MonitorTest, SigkillOfInitIsExitCode137) {
  Container c(*image_dir_);
  c.config.argv = Sh("sleep 100 & echo ready; wait");
  StartReport report = c.Start();
  ASSERT_EQ(report.kind, StartReport::kRunning);
  ASSERT_TRUE(c.WaitForOutput("ready"));
  ASSERT_EQ(kill(report.init_pid, SIGKILL), 0);
  MonitorExit exit = c.Wait();
  EXPECT_EQ(exit.reason, "Exited");
  EXPECT_EQ(exit.exit_code, 137);
  EXPECT_EQ(exit.signal, 9);
}

TEST_F(MonitorTest, LargeOutputArrivesCompleteAndInOrder) {
  Container c(*image_dir_);
  constexpr size_t kZeros = 20 * 1000 * 1000;
  c.config.argv = Sh("head -c " + std::to_string(kZeros) + " /dev/zero; seq 1 100000");
  EXPECT_EQ(c.Run().exit_code, 0);
  std::string out = c.Stdout();
  std::string expected(kZeros, '\0');
  for (int i = 1; i <= 100000; ++i) expected += std::to_string(i) + "\n";
  ASSERT_EQ(out.size(), expected.size());
  EXPECT_TRUE(out == expected);
}

// Log writes that start failing in the middle of bulk output (the spliced path) drop the
// output instead of stalling the workload, and leave only whole records in the log.
TEST_F(MonitorTest, LogWritesFailingDuringBulkOutputDropIt) {
  Container c(*image_dir_);
  constexpr rlim_t kLogLimit = 1 << 20;
  c.file_size_limit = kLogLimit;
  c.config.argv = Sh("head -c 8000000 /dev/zero; echo done >&2");
  MonitorExit exit = c.Run();
  EXPECT_EQ(exit.reason, "Exited");
  EXPECT_EQ(exit.exit_code, 0);
  const std::string out = c.Stdout();
  EXPECT_GT(out.size(), 0u);
  EXPECT_LT(out.size(), kLogLimit);
  EXPECT_EQ(out, std::string(out.size(), '\0'));
  EXPECT_NE(c.MonitorLog().find("File too large"), std::string::npos) << c.MonitorLog();
}

// The rootfs overlay skips the sync of the whole host filesystem at its unmount, and the
// marker that leaves behind does not keep the layers from being mounted again (a stopped
// container's copy overlay, common/overlay_volatile.h).
TEST_F(MonitorTest, RootfsOverlayIsVolatileAndMountsAgain) {
  Container c(*image_dir_);
  c.config.argv = Sh("grep -c ' / / .*volatile' /proc/self/mountinfo; echo kept > /kept");
  EXPECT_EQ(c.Run().exit_code, 0);
  EXPECT_EQ(c.Stdout(), "1\n");
  EXPECT_TRUE(fs::exists(c.config.work_dir + "/work/incompat/volatile"));

  Container again(*image_dir_);
  again.config.upper_dir = c.config.upper_dir;
  again.config.work_dir = c.config.work_dir;
  again.config.argv = Sh("cat /kept");
  EXPECT_EQ(again.Run().exit_code, 0);
  EXPECT_EQ(again.Stdout(), "kept\n");
}

TEST_F(MonitorTest, JoinsV1CgroupAndSeesItAsRoot) {
  std::string own;
  for (std::istringstream in(ReadFile("/proc/self/cgroup")); std::getline(in, own);) {
    if (own.rfind("8:pids:", 0) == 0 || own.find(":pids:") != std::string::npos) break;
  }
  ASSERT_NE(own.find(":pids:"), std::string::npos) << "no v1 pids hierarchy";
  std::string parent = "/sys/fs/cgroup/pids" + own.substr(own.find(":pids:") + 6);
  std::string cgroup = parent + "/quilt-monitor-test-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(cgroup.c_str(), 0755), 0) << strerror(errno);
  {
    Container c(*image_dir_);
    c.config.cgroup_procs_files = {cgroup + "/cgroup.procs"};
    c.config.argv = Sh("grep ':pids:' /proc/self/cgroup; echo ready; sleep 100");
    StartReport report = c.Start();
    ASSERT_EQ(report.kind, StartReport::kRunning);
    ASSERT_TRUE(c.WaitForOutput("ready"));
    std::string procs = ReadFile(cgroup + "/cgroup.procs");
    EXPECT_NE(procs.find(std::to_string(report.init_pid) + "\n"), std::string::npos) << procs;
    kill(report.init_pid, SIGKILL);
    c.Wait();
    EXPECT_EQ(c.Stdout().substr(c.Stdout().find(":pids:")), ":pids:/\nready\n");
  }
  EXPECT_EQ(rmdir(cgroup.c_str()), 0) << strerror(errno);
}

TEST_F(MonitorTest, ClonesIntoV2CgroupAndSeesItAsRoot) {
  std::string own = ReadFile("/proc/self/cgroup");
  size_t v2 = own.find("0::");
  if (v2 == std::string::npos || !fs::exists("/sys/fs/cgroup/unified/cgroup.procs")) {
    GTEST_SKIP() << "no cgroup2 hierarchy at /sys/fs/cgroup/unified";
  }
  std::string path = own.substr(v2 + 3, own.find('\n', v2) - v2 - 3);
  std::string cgroup = "/sys/fs/cgroup/unified" + (path == "/" ? "" : path) +
                       "/quilt-monitor-test-" + std::to_string(getpid());
  ASSERT_EQ(mkdir(cgroup.c_str(), 0755), 0) << strerror(errno);
  {
    Container c(*image_dir_);
    c.config.cgroup_v2_dir = cgroup;
    c.config.argv = Sh("grep '^0::' /proc/self/cgroup; echo ready; sleep 100");
    StartReport report = c.Start();
    ASSERT_EQ(report.kind, StartReport::kRunning) << DescribeStartFailure(report);
    ASSERT_TRUE(c.WaitForOutput("ready"));
    std::string procs = ReadFile(cgroup + "/cgroup.procs");
    EXPECT_NE(procs.find(std::to_string(report.init_pid) + "\n"), std::string::npos) << procs;
    kill(report.init_pid, SIGKILL);
    c.Wait();
    EXPECT_EQ(c.Stdout(), "0::/\nready\n");
  }
  EXPECT_EQ(rmdir(cgroup.c_str()), 0) << strerror(errno);
}

TEST_F(MonitorTest, TenContainersInParallel) {
  std::vector<std::unique_ptr<Container>> containers;
  for (int i = 0; i < 10; ++i) {
    containers.push_back(std::make_unique<Container>(*image_dir_));
    containers.back()->config.argv = Sh("echo container-" + std::to_string(i) + "; sleep 0.2");
    containers.back()->Spawn();
  }
  for (int i = 0; i < 10; ++i) {
    StartReport report = containers[i]->ReadStartReport();
    EXPECT_EQ(report.kind, StartReport::kRunning) << DescribeStartFailure(report);
  }
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(containers[i]->Wait().exit_code, 0);
    EXPECT_EQ(containers[i]->Stdout(), "container-" + std::to_string(i) + "\n");
  }
}

TEST_F(MonitorTest, BadConfigReportsConfigFailure) {
  Container c(*image_dir_);
  c.config.argv = {};  // rejected by the parser: argv is required
  c.Spawn();
  StartReport report = c.ReadStartReport();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kConfig));
  EXPECT_NE(std::string(report.detail).find("argv is empty"), std::string::npos) << report.detail;
  EXPECT_EQ(c.WaitStatus(), 1);
  EXPECT_FALSE(fs::exists(c.config.exit_path));
}

TEST_F(MonitorTest, SurvivesClosedStartPipe) {
  Container c(*image_dir_);
  c.config.setup = {"sleep 0.2"};  // the report comes after quiltd's end is gone
  c.config.argv = {"echo", "still logged"};
  c.Spawn();
  c.CloseStartPipe();
  MonitorExit exit = c.Wait();
  EXPECT_EQ(exit.reason, "Exited");
  EXPECT_EQ(exit.exit_code, 0);
  EXPECT_EQ(c.Stdout(), "still logged\n");
}

TEST_F(MonitorTest, CgroupJoinFailureIsStartFailed) {
  Container c(*image_dir_);
  c.config.cgroup_procs_files = {c.dir() + "/no-such-cgroup/cgroup.procs"};
  c.config.argv = {"echo", "never"};
  StartReport report = c.Start();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kCgroup));
  EXPECT_EQ(report.error, ENOENT);
  MonitorExit exit = c.Wait();
  EXPECT_EQ(exit.reason, "StartFailed");
  EXPECT_EQ(exit.message, "cgroup: join cgroup " + c.config.cgroup_procs_files[0] +
                              ": No such file or directory");
  EXPECT_EQ(c.Stdout(), "");
}

TEST_F(MonitorTest, MissingBindSourceIsMountFailure) {
  Container c(*image_dir_);
  c.config.mounts = {{c.dir() + "/missing", "/data", false}};
  c.config.argv = {"echo", "never"};
  StartReport report = c.Start();
  EXPECT_EQ(report.kind, StartReport::kFailed);
  EXPECT_EQ(report.stage, static_cast<int32_t>(StartStage::kMounts));
  EXPECT_EQ(DescribeStartFailure(report),
            "mounts: open " + c.dir() + "/missing: No such file or directory");
  EXPECT_EQ(c.Wait().reason, "StartFailed");
  EXPECT_EQ(c.Stdout(), "");
}

}  // namespace
}  // namespace quilt
