#include "quiltd/monitor/monitor.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/fd_passing.h"
#include "common/log_record.h"
#include "common/unique_fd.h"
#include "quiltd/monitor/attach_server.h"
#include "quiltd/monitor/channel.h"
#include "quiltd/monitor/container_init.h"
#include "quiltd/monitor/log_writer.h"
#include "quiltd/monitor/monitor_codec.h"
#include "quiltd/monitor/sandbox.h"
#include "quiltd/monitor/userns.h"

namespace quilt {
namespace {

constexpr int kStartPipeFd = 3;
constexpr int kLogPipeSize = 1 << 20;

// The monitor's own diagnostics go to its stderr (quiltd points it at monitor.log).
void Diag(const std::string& message) {
  std::string line = "quilt-monitor: " + message + "\n";
  (void)!write(2, line.data(), line.size());
}

int64_t NowNs() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd.get(), chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(chunk, static_cast<size_t>(n));
  }
}

// Temp file + rename so readers see all or nothing; `sync` also makes it durable before
// the rename (exit.json is the record of a finished container).
bool WriteFileAtomically(const std::string& path, const std::string& content, bool sync) {
  std::string temp = path + ".tmp";
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return false;
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  if (sync && fsync(fd.get()) != 0) return false;
  fd.Reset();
  return rename(temp.c_str(), path.c_str()) == 0;
}

bool IsDiskFull(int err) { return err == ENOSPC || err == EDQUOT; }

int ExitCodeOf(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

struct OutputPipe {
  UniqueFd read;
  UniqueFd write;
  LogStreamId stream = LogStreamId::kStdout;
  uint8_t flags = 0;
};

class Monitor {
 public:
  explicit Monitor(std::string bundle_dir) : bundle_dir_(std::move(bundle_dir)) {}
  int Run();

 private:
  enum PipeIndex { kStdout = 0, kStderr = 1, kSetupStdout = 2, kSetupStderr = 3, kPipeCount };

  bool LoadConfig();
  bool CreateChannels();
  bool PrepareUserNamespace();
  bool CloneInit();
  [[noreturn]] void ChildMain();
  bool ContainInit(StartReport* failure);
  bool ParentSteps();
  // Whether the init waits for kParentReady: when the monitor has steps to do for it.
  bool InitWaitsForParent() const {
    return !config_.cgroup_procs_files.empty() || UsesUserNamespace(config_);
  }
  bool JoinCgroups();
  void ReleaseInit();
  void EventLoop();
  void HandlePipe(OutputPipe& pipe);
  void HandleTerminal();
  void HandleControl();
  void HandleInitExit();
  void RecordFailure(StartStage stage, int error, const std::string& detail);
  void RecordReport(const StartReport& report);
  void ReportStart(const StartReport& report);
  bool WriteExit();

  std::string bundle_dir_;
  MonitorConfig config_;
  UniqueFd start_pipe_;
  std::optional<LogWriter> log_;
  bool log_failed_ = false;
  OutputPipe pipes_[kPipeCount];
  // Interactive workloads (config tty or stdin_open): the attach socket, the write end of the
  // workload's stdin pipe, and the master of its terminal (sent by the init).
  AttachServer attach_;
  UniqueFd stdin_read_;  // the init's end; closed in the monitor after clone
  UniqueFd stdin_write_;
  UniqueFd terminal_;
  UniqueFd control_;        // the monitor's end of the control channel
  UniqueFd child_control_;  // the init's end; closed in the monitor after clone
  UniqueFd cgroup_v2_fd_;
  UniqueFd host_mount_ns_;  // set while the monitor is in its private mount namespace
  UniqueFd pidfd_;
  pid_t init_pid_ = -1;
  int init_status_ = 0;
  bool running_ = false;
  std::optional<StartReport> failure_;
  std::optional<int> workload_status_;
};

bool Monitor::LoadConfig() {
  std::string path = bundle_dir_ + "/config.json";
  std::string text;
  std::string error;
  if (!ReadWholeFile(path, &text)) {
    RecordFailure(StartStage::kConfig, errno, "read " + path);
    return false;
  }
  if (!monitor_codec::DecodeMonitorConfig(text, &config_, &error)) {
    RecordFailure(StartStage::kConfig, 0, path + ": " + error);
    return false;
  }
  return true;
}

bool Monitor::CreateChannels() {
  log_ = LogWriter::Open(config_.log_path, {config_.log_max_bytes, config_.log_max_files});
  if (!log_.has_value()) {
    RecordFailure(StartStage::kPipes, errno, "open log " + config_.log_path);
    return false;
  }
  const LogStreamId streams[kPipeCount] = {LogStreamId::kStdout, LogStreamId::kStderr,
                                           LogStreamId::kStdout, LogStreamId::kStderr};
  for (int i = 0; i < kPipeCount; ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      RecordFailure(StartStage::kPipes, errno, "create output pipe");
      return false;
    }
    pipes_[i].read.Reset(fds[0]);
    pipes_[i].write.Reset(fds[1]);
    pipes_[i].stream = streams[i];
    pipes_[i].flags = i >= kSetupStdout ? kLogFlagSetup : 0;
    // Large workload pipes let a burst of output go through without stalling the workload
    // while the monitor writes; best effort (the pipe-max-size sysctl may forbid it).
    if (i < kSetupStdout) fcntl(fds[1], F_SETPIPE_SZ, kLogPipeSize);
  }
  int sockets[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
    RecordFailure(StartStage::kPipes, errno, "create control channel");
    return false;
  }
  control_.Reset(sockets[0]);
  child_control_.Reset(sockets[1]);
  if (config_.stdin_open && !config_.tty) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      RecordFailure(StartStage::kPipes, errno, "create stdin pipe");
      return false;
    }
    stdin_read_.Reset(fds[0]);
    stdin_write_.Reset(fds[1]);
    attach_.SetInput(kAttachStdinPipe, stdin_write_.get());
  }
  if ((config_.tty || config_.stdin_open) && !attach_.Listen(bundle_dir_, "attach.sock")) {
    RecordFailure(StartStage::kPipes, errno, "listen on " + bundle_dir_ + "/attach.sock");
    return false;
  }
  return true;
}

bool Monitor::CloneInit() {
  clone_args args{};
  args.flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD;
  // The kernel creates the user namespace first and makes it the owner of the others. The
  // mount namespace comes later, from the init itself (see userns.h).
  args.flags |= UsesUserNamespace(config_) ? CLONE_NEWUSER : CLONE_NEWNS;
  if (config_.new_network) args.flags |= CLONE_NEWNET;
  if (!config_.cgroup_v2_dir.empty()) {
    cgroup_v2_fd_.Reset(open(config_.cgroup_v2_dir.c_str(), O_DIRECTORY | O_PATH | O_CLOEXEC));
    if (!cgroup_v2_fd_.valid()) {
      RecordFailure(StartStage::kCgroup, errno, "open cgroup " + config_.cgroup_v2_dir);
      return false;
    }
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_v2_fd_.get());
  }
  int pidfd = -1;
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) ChildMain();
  if (pid < 0) {
    RecordFailure(StartStage::kClone, errno, "clone3 container init");
    return false;
  }
  init_pid_ = static_cast<pid_t>(pid);
  pidfd_.Reset(pidfd);
  cgroup_v2_fd_.Reset();
  // Only the container may hold the write ends, or the monitor would never see EOF.
  for (OutputPipe& pipe : pipes_) pipe.write.Reset();
  child_control_.Reset();
  stdin_read_.Reset();
  return true;
}

// Runs in the cloned child (the future container init). The monitor is single-threaded, so
// allocating here is safe.
void Monitor::ChildMain() {
  // If the monitor dies, nobody would collect the output: take the container down with it.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  InitFds fds{child_control_.get(),
              pipes_[kSetupStdout].write.get(),
              pipes_[kSetupStderr].write.get(),
              pipes_[kStdout].write.get(),
              pipes_[kStderr].write.get(),
              stdin_read_.get()};
  const int keep[] = {fds.control,     fds.setup_stdout, fds.setup_stderr,
                      fds.stdout_pipe, fds.stderr_pipe,  fds.stdin_pipe};
  // Drops the start pipe, the log and the read ends: quiltd must see EOF on fd 3 when the
  // monitor dies, whatever the container does.
  CloseFdsExcept(keep, sizeof(keep) / sizeof(keep[0]));
  if (InitWaitsForParent()) {
    ChannelMessage go;
    if (recv(fds.control, &go, sizeof(go), 0) != sizeof(go) ||
        go.type != ChannelMessage::kParentReady) {
      _exit(1);
    }
  }
  ChannelMessage message;
  message.type = ChannelMessage::kFailed;
  if (ContainInit(&message.report)) RunContainerInit(config_, fds);
  SendChannelMessage(fds.control, message);
  _exit(1);
}

// The init's steps between kParentReady and running anything of the container.
bool Monitor::ContainInit(StartReport* failure) {
  const bool userns = UsesUserNamespace(config_);
  if (userns && !EnterOwnMountNamespace(failure)) return false;
  // Unshared only now, after the cgroups were joined, so the container's cgroup namespace
  // is rooted at its own cgroup (with CLONE_INTO_CGROUP too: a namespace from clone3 would
  // be rooted at the monitor's cgroup).
  if (unshare(CLONE_NEWCGROUP) != 0) {
    SetStartFailure(failure, StartStage::kCgroup, errno, "unshare cgroup namespace");
    return false;
  }
  SandboxSources sources;
  if (!PrepareRootfs(config_, &sources, failure)) return false;
  if (userns && !BecomeNamespaceRoot(failure)) return false;
  return SetUpSandbox(config_, std::move(sources), failure);
}

// Before clone: the private mount namespace the id-mapped rootfs is mounted in.
bool Monitor::PrepareUserNamespace() {
  if (!UsesUserNamespace(config_)) return true;
  StartReport report;
  if (EnterPrivateMountNamespace(&host_mount_ns_, &report) && DelegateCgroup(config_, &report)) {
    return true;
  }
  RecordReport(report);
  return false;
}

// Step 2 on v1: nothing in the container may run before it is in its cgroups.
bool Monitor::JoinCgroups() {
  std::string pid = std::to_string(init_pid_);
  for (const std::string& path : config_.cgroup_procs_files) {
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd.valid() || write(fd.get(), pid.data(), pid.size()) < 0) {
      RecordFailure(StartStage::kCgroup, errno, "join cgroup " + path);
      return false;
    }
  }
  return true;
}

// What the monitor does for the waiting init: v1 cgroups, then the user namespace's maps
// and id-mapped rootfs (they need the init's namespace, so they come after clone).
bool Monitor::ParentSteps() {
  if (!JoinCgroups()) return false;
  if (!UsesUserNamespace(config_)) return true;
  StartReport report;
  if (WriteIdMaps(init_pid_, config_, &report) &&
      MountIdMappedRootfs(config_, init_pid_, &report)) {
    return true;
  }
  RecordReport(report);
  return false;
}

// Sends kParentReady once the parent steps are done; on failure the init is killed instead
// (the event loop then reaps it).
void Monitor::ReleaseInit() {
  if (!ParentSteps()) {
    kill(init_pid_, SIGKILL);
  } else if (InitWaitsForParent()) {
    ChannelMessage go;
    go.type = ChannelMessage::kParentReady;
    SendChannelMessage(control_.get(), go);
  }
  // The init holds the private namespace until it has its own copy; the monitor needs it no
  // more, and leaving frees it as soon as the init has unshared.
  LeavePrivateMountNamespace(std::move(host_mount_ns_));
}

void Monitor::HandlePipe(OutputPipe& pipe) {
  static uint8_t buffer[kLogMaxPayload];
  ssize_t n = read(pipe.read.get(), buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    pipe.read.Reset();
    return;
  }
  // A failing log write (full disk) must not stop the draining, or the workload blocks:
  // the writer drops the output and marks the gap once it can write again.
  const bool written = log_->Append(pipe.stream, pipe.flags, buffer, static_cast<size_t>(n));
  if (written == log_failed_) {
    log_failed_ = !written;
    Diag(written ? "log writes resumed" : "write log " + config_.log_path + ": " + strerror(errno));
  }
  if (pipe.flags == 0) {
    attach_.Broadcast(pipe.stream == LogStreamId::kStderr ? kAttachStderr : kAttachStdout, buffer,
                      static_cast<size_t>(n));
  }
}

// The workload's terminal: everything it writes is logged as stdout. EIO means every slave
// fd is closed (the workload and whatever it started are gone).
void Monitor::HandleTerminal() {
  static uint8_t buffer[kLogMaxPayload];
  ssize_t n = read(terminal_.get(), buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    terminal_.Reset();
    attach_.SetInput(kAttachNoInput, -1);
    return;
  }
  if (!log_->Append(LogStreamId::kStdout, 0, buffer, static_cast<size_t>(n)) && !log_failed_) {
    log_failed_ = true;
    Diag("write log " + config_.log_path + ": " + strerror(errno));
  }
  attach_.Broadcast(kAttachStdout, buffer, static_cast<size_t>(n));
}

void Monitor::HandleControl() {
  ChannelMessage message;
  UniqueFd fd;
  ssize_t n = ReceiveFd(control_.get(), &message, sizeof(message), &fd);
  if (n < 0 && errno == EINTR) return;
  if (n != sizeof(message)) {
    control_.Reset();
    return;
  }
  switch (message.type) {
    case ChannelMessage::kRunning: {
      running_ = true;
      MonitorState state{getpid(), init_pid_, NowNs()};
      if (!WriteFileAtomically(config_.state_path, SerializeMonitorState(state), false)) {
        Diag("write " + config_.state_path + ": " + strerror(errno));
      }
      StartReport report;
      report.kind = StartReport::kRunning;
      report.init_pid = init_pid_;
      ReportStart(report);
      break;
    }
    case ChannelMessage::kFailed:
      failure_ = message.report;
      ReportStart(message.report);
      break;
    case ChannelMessage::kWorkloadExited:
      workload_status_ = message.value;
      break;
    case ChannelMessage::kTerminal:
      terminal_ = std::move(fd);
      fcntl(terminal_.get(), F_SETFL, O_NONBLOCK);
      attach_.SetInput(config_.stdin_open ? kAttachTtyStdin : kAttachTty, terminal_.get());
      break;
    default:
      Diag("unknown control message " + std::to_string(message.type));
  }
}

void Monitor::HandleInitExit() {
  int status = 0;
  pid_t pid = waitpid(init_pid_, &status, WNOHANG);
  if (pid == 0 || (pid < 0 && errno == EINTR)) return;
  init_status_ = status;
  pidfd_.Reset();
}

// Step 4: runs until the init is reaped, the control channel is closed and every output
// pipe reached EOF. The kernel kills the whole pid namespace when the init exits, so all
// write ends close then and the log is complete when this returns.
void Monitor::EventLoop() {
  std::vector<pollfd> fds;
  for (;;) {
    fds.clear();
    for (const OutputPipe& pipe : pipes_) fds.push_back({pipe.read.get(), POLLIN, 0});
    fds.push_back({control_.get(), POLLIN, 0});
    fds.push_back({pidfd_.get(), POLLIN, 0});
    fds.push_back({terminal_.get(), POLLIN, 0});
    // Attach clients never keep the loop going: they are served while the workload lives.
    bool any = false;
    for (const pollfd& p : fds) any = any || p.fd >= 0;
    if (!any) return;
    const size_t attach_first = fds.size();
    attach_.AddPollFds(&fds);
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      Diag(std::string("poll: ") + strerror(errno));
      return;
    }
    // Setup pipes first: setup commands end before the workload starts, so when both have
    // output waiting, the setup's was written first (under load one poll sees both).
    for (int i : {kSetupStdout, kSetupStderr, kStdout, kStderr}) {
      if (fds[i].revents != 0) HandlePipe(pipes_[i]);
    }
    if (fds[kPipeCount + 2].revents != 0) HandleTerminal();
    // Control before the pidfd: the init sends its last message before exiting.
    if (fds[kPipeCount].revents != 0) HandleControl();
    if (fds[kPipeCount + 1].revents != 0) HandleInitExit();
    bool close_stdin = false;
    attach_.Handle(fds, attach_first, &close_stdin);
    if (close_stdin && stdin_write_.valid()) {
      stdin_write_.Reset();
      attach_.SetInput(kAttachNoInput, -1);
    }
  }
}

void Monitor::RecordFailure(StartStage stage, int error, const std::string& detail) {
  StartReport report;
  SetStartFailure(&report, stage, error, detail.c_str());
  RecordReport(report);
}

void Monitor::RecordReport(const StartReport& report) {
  failure_ = report;
  Diag(DescribeStartFailure(report));
  ReportStart(report);
}

// Exactly one report reaches quiltd; a closed pipe (quiltd gone) is ignored (SIGPIPE is).
void Monitor::ReportStart(const StartReport& report) {
  if (!start_pipe_.valid()) return;
  (void)!write(start_pipe_.get(), &report, sizeof(report));
  start_pipe_.Reset();
}

bool Monitor::WriteExit() {
  if (!running_ && !failure_) {
    RecordFailure(StartStage::kNone, 0,
                  "container init exited with code " + std::to_string(ExitCodeOf(init_status_)));
    failure_->exit_code = ExitCodeOf(init_status_);
  }
  MonitorExit exit;
  if (failure_) {
    bool setup = failure_->stage == static_cast<int32_t>(StartStage::kSetup);
    exit.reason = setup ? "SetupFailed" : "StartFailed";
    exit.message = DescribeStartFailure(*failure_);
    exit.exit_code = failure_->exit_code != 0 ? failure_->exit_code : 1;
  } else {
    int status = workload_status_.value_or(init_status_);
    exit.reason = "Exited";
    exit.exit_code = ExitCodeOf(status);
    exit.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  exit.finished_at_ns = NowNs();
  // exit.json is the only record of the end: on a full disk, wait for space rather than
  // lose it (quiltd keeps reporting the container as running meanwhile). The drop marker
  // goes first, since the log is complete once exit.json exists.
  for (bool waiting = false;; waiting = true) {
    const bool marked = !log_ || log_->FlushDropMarker() || !IsDiskFull(errno);
    if (marked && WriteFileAtomically(config_.exit_path, SerializeMonitorExit(exit), true)) {
      return true;
    }
    if (marked && !IsDiskFull(errno)) {
      Diag("write " + config_.exit_path + ": " + strerror(errno));
      return false;
    }
    if (!waiting) Diag("write " + config_.exit_path + ": disk full, retrying every second");
    sleep(1);
  }
}

int Monitor::Run() {
  // quiltd may be gone when we report: a write to the start pipe must not kill us.
  signal(SIGPIPE, SIG_IGN);
  setsid();
  if (fcntl(kStartPipeFd, F_GETFD) != -1) start_pipe_.Reset(kStartPipeFd);
  if (!LoadConfig()) return 1;
  if (CreateChannels() && PrepareUserNamespace() && CloneInit()) {
    ReleaseInit();
    EventLoop();
  }
  const bool written = WriteExit();
  // Attached clients see the end only once exit.json exists, so what they do next (Wait,
  // Get) finds the container finished or finishing, never running.
  attach_.Close();
  return written ? 0 : 1;
}

}  // namespace

int RunMonitor(const std::string& bundle_dir) { return Monitor(bundle_dir).Run(); }

}  // namespace quilt
