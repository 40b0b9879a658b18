#include "tests/integration/quiltd_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "tests/integration/process_probe.h"

extern char** environ;

namespace quilt::testing {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The cgroup2 mount: /sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid
// one; empty when there is none.
std::string V2MountPoint() {
  for (const char* root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
    if (access((std::string(root) + "/cgroup.controllers").c_str(), F_OK) == 0) return root;
  }
  return "";
}

// The directories of quiltd's default cgroup parent in each v1 hierarchy and in v2: the
// cgroup this test process (and so its quiltd) runs in.
std::vector<std::string> OwnCgroupDirs() {
  std::vector<std::string> dirs;
  for (absl::string_view line : absl::StrSplit(ReadAll("/proc/self/cgroup"), '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    // "/" is the hierarchy's root cgroup (always, on a v2 VM whose init runs the tests).
    const std::string path = f[2] == "/" ? "" : f[2];
    if (f[0] == "0") {
      if (std::string root = V2MountPoint(); !root.empty()) dirs.push_back(root + path);
      continue;
    }
    for (absl::string_view ctrl : absl::StrSplit(f[1], ',')) {
      if (ctrl == "memory" || ctrl == "pids" || ctrl == "cpu" || ctrl == "cpuacct") {
        dirs.push_back("/sys/fs/cgroup/" + f[1] + path);
        break;
      }
    }
  }
  return dirs;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return {};
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : extra_env) env_strings.push_back(e);
  std::vector<char*> envp, args;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[65536];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

void QuiltdTest::SetUp() {
  ASSERT_EQ(geteuid(), 0u) << "integration tests run as root (CI does)";
  // Without them TearDown's check for leftover container cgroups would look nowhere.
  ASSERT_FALSE(OwnCgroupDirs().empty()) << "no cgroup hierarchy in /proc/self/cgroup";
  char tmpl[] = "/tmp/quilt-it-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  socket_ = dir_ + "/quilt.sock";
  state_dir_ = dir_ + "/state";
  cgroup_parent_ = "quilt-it-" + dir_.substr(dir_.rfind('-') + 1);
  mounts_before_ = MountTable();
  StartDaemon();
}

void QuiltdTest::TearDown() {
  if (daemon_pid_ <= 0) StartDaemon();
  // Remove whatever the test left; the daemon must be able to.
  v1::ListRequest list;
  list.set_all(true);
  v1::ListResponse listed;
  grpc::ClientContext list_ctx;
  if (containers_->List(&list_ctx, list, &listed).ok()) {
    for (const v1::Container& c : listed.containers()) {
      grpc::ClientContext ctx;
      v1::RemoveRequest rm;
      rm.set_ref(c.id());
      rm.set_force(true);
      v1::RemoveResponse resp;
      grpc::Status status = containers_->Remove(&ctx, rm, &resp);
      EXPECT_TRUE(status.ok()) << "remove " << c.id() << ": " << status.error_message();
    }
  }
  EXPECT_EQ(StopDaemon(), 0) << "quiltd should exit cleanly on SIGTERM";
  if (HasFailure()) std::cerr << "quiltd log:\n" << ReadAll(dir_ + "/quiltd.log");
  EXPECT_EQ(ContainerCgroups(), std::vector<std::string>{}) << "container cgroups left behind";
  EXPECT_EQ(SpareCgroups(), std::vector<std::string>{}) << "spare cgroups left behind";
  for (const std::string& parent : OwnCgroupDirs()) rmdir((parent + "/" + cgroup_parent_).c_str());
  EXPECT_EQ(MountTable(), mounts_before_) << "mounts left behind";
  EXPECT_TRUE(RemoveTree(dir_).ok());
}

void QuiltdTest::StartDaemon(const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {QUILTD_PATH,   "--socket",        socket_,
                                   "--state-dir", state_dir_,        "--log-level",
                                   "warning",     "--cgroup-parent", cgroup_parent_};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.insert(argv.begin(), daemon_wrapper_.begin(), daemon_wrapper_.end());
  const std::string log = dir_ + "/quiltd.log";
  // Built before fork: the test process has gRPC threads, so the child may not allocate.
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  daemon_pid_ = fork();
  if (daemon_pid_ == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    rlimit files{};
    if (daemon_open_files_soft_ != 0 && getrlimit(RLIMIT_NOFILE, &files) == 0) {
      files.rlim_cur = daemon_open_files_soft_;
      setrlimit(RLIMIT_NOFILE, &files);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  // A private subchannel pool: gRPC shares subchannels between channels to one target,
  // and a stale one from a killed daemon could look connected.
  grpc::ChannelArguments channel_args;
  channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // The daemon needs a few ms to listen; retry quickly instead of gRPC's 1 s backoff.
  channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 10);
  channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10);
  channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  channel_ = grpc::CreateCustomChannel("unix:" + socket_, grpc::InsecureChannelCredentials(),
                                       channel_args);
  system_ = v1::System::NewStub(channel_);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::VersionResponse version;
  grpc::Status up = system_->Version(&ctx, v1::VersionRequest(), &version);
  ASSERT_TRUE(up.ok()) << "quiltd did not come up: " << up.error_message() << "; its log:\n"
                       << ReadAll(log);
  containers_ = v1::Containers::NewStub(channel_);
  images_ = v1::Images::NewStub(channel_);
}

void QuiltdTest::KillDaemon() {
  ASSERT_GT(daemon_pid_, 0);
  kill(daemon_pid_, SIGKILL);
  waitpid(daemon_pid_, nullptr, 0);
  daemon_pid_ = -1;
}

int QuiltdTest::StopDaemon() {
  if (daemon_pid_ <= 0) return -1;
  // Our open connection would hold the daemon's graceful shutdown to its deadline.
  containers_.reset();
  images_.reset();
  system_.reset();
  channel_.reset();
  kill(daemon_pid_, SIGTERM);
  int status = 0;
  waitpid(daemon_pid_, &status, 0);
  daemon_pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

CommandResult QuiltdTest::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {QUILT_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {"QUILT_SOCKET=" + socket_});
}

v1::ContainerSpec QuiltdTest::Spec(const std::vector<std::string>& command) {
  v1::ContainerSpec spec;
  for (const std::string& arg : command) spec.add_command(arg);
  return spec;
}

v1::Container QuiltdTest::Run(const v1::ContainerSpec& spec) {
  grpc::ClientContext ctx;
  v1::CreateRequest request;
  *request.mutable_spec() = spec;
  request.set_start(true);
  v1::CreateResponse response;
  grpc::Status status = containers_->Create(&ctx, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.container();
}

v1::Container QuiltdTest::WaitFor(const std::string& ref) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::WaitRequest request;
  request.set_ref(ref);
  v1::WaitResponse response;
  grpc::Status status = containers_->Wait(&ctx, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.container();
}

std::string QuiltdTest::Logs(const std::string& ref, v1::LogStream stream, bool follow) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  v1::LogsRequest request;
  request.set_ref(ref);
  request.set_stream(stream);
  request.set_follow(follow);
  auto reader = containers_->Logs(&ctx, request);
  std::string out;
  v1::LogsResponse response;
  while (reader->Read(&response)) {
    for (const v1::LogEntry& e : response.entries()) out += e.data();
  }
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  return out;
}

bool QuiltdTest::WaitForLog(const std::string& ref, const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (absl::StrContains(Logs(ref), text)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::string> QuiltdTest::ContainerCgroups() const {
  std::vector<std::string> found;
  for (const std::string& dir : CgroupsNamed("quilt-")) {
    if (!absl::StrContains(dir, "/quilt-spare-")) found.push_back(dir);
  }
  return found;
}

std::vector<std::string> QuiltdTest::SpareCgroups() const { return CgroupsNamed("quilt-spare-"); }

std::vector<pid_t> QuiltdTest::SpareMonitors() const {
  std::vector<pid_t> found;
  for (pid_t child : ChildrenOf(daemon_pid_)) {
    if (IsSpare(child)) found.push_back(child);
  }
  return found;
}

size_t QuiltdTest::ReadySpares() const {
  size_t ready = 0;
  for (pid_t monitor : SpareMonitors()) {
    const std::vector<pid_t> inits = ChildrenOf(monitor);
    if (inits.size() == 1 &&
        absl::StrContains(ReadAll(absl::StrCat("/proc/", inits[0], "/cgroup")), "/quilt-spare-")) {
      ++ready;
    }
  }
  return ready;
}

void QuiltdTest::AwaitSpares(size_t count) const {
  if (CgroupFileOf(getpid(), "memory.limit_in_bytes").empty()) return;  // v2: none
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (ReadySpares() < count && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(ReadySpares(), count) << "quiltd did not make its spares";
}

std::vector<std::string> QuiltdTest::CgroupsNamed(const std::string& prefix) const {
  std::vector<std::string> found;
  for (const std::string& own : OwnCgroupDirs()) {
    const std::string parent = own + "/" + cgroup_parent_;
    DIR* d = opendir(parent.c_str());
    if (d == nullptr) continue;
    while (dirent* e = readdir(d)) {
      if (absl::StartsWith(e->d_name, prefix)) found.push_back(parent + "/" + e->d_name);
    }
    closedir(d);
  }
  std::sort(found.begin(), found.end());
  return found;
}

std::string QuiltdTest::CgroupFileOf(pid_t pid, const std::string& file) {
  const std::string controller = file.substr(0, file.find('.'));
  std::string v2_path;
  for (absl::string_view line :
       absl::StrSplit(ReadAll(absl::StrCat("/proc/", pid, "/cgroup")), '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    if (f[0] == "0") {
      if (std::string root = V2MountPoint(); !root.empty()) v2_path = root + f[2] + "/" + file;
      continue;
    }
    for (absl::string_view ctrl : absl::StrSplit(f[1], ',')) {
      const std::string path = absl::StrCat("/sys/fs/cgroup/", f[1], f[2], "/", file);
      if (ctrl == controller && access(path.c_str(), F_OK) == 0) return path;
    }
  }
  return !v2_path.empty() && access(v2_path.c_str(), F_OK) == 0 ? v2_path : "";
}

std::string QuiltdTest::MountTable() const {
  // Mount ids and propagation peers differ run to run; compare mount points and sources.
  // Mounts below another test's directory belong to that test (ctest runs suites side by
  // side), not to this one's daemon.
  const std::string own_prefix = dir_ + "/";
  std::string table;
  for (absl::string_view line : absl::StrSplit(ReadAll("/proc/self/mountinfo"), '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() <= 4) continue;
    if (absl::StartsWith(f[4], "/tmp/quilt-it-") && !absl::StartsWith(f[4], own_prefix)) continue;
    absl::StrAppend(&table, f[3], " ", f[4], "\n");
  }
  return table;
}

}  // namespace quilt::testing
