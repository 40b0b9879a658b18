#include "quiltd/monitor/monitor.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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
constexpr int kClaimPipeFd = 4;  // spares only
constexpr int kLogPipeSize = 1 << 20;
// After a read of this many bytes, the next output of that pipe goes by splice: the kernel
// moves it into the log instead of the monitor copying it through its buffer. Below, the
// two syscalls of read and write beat the three of the splice path.
constexpr ssize_t kSpliceMin = 16 * 1024;
// A writer streaming through stdio hands the pipe 4 KiB at a time, and the monitor woke for
// each piece: for 100-byte lines it spent more CPU than the writer. When a read drains a
// pipe after taking at least kBatchMin bytes, the monitor naps kBatchNap before polling
// again, so the next wakeup finds a batch (the 1 MiB pipe holds ~2 ms of the fastest
// writer's output, so the writer never waits for the nap). A read that fills the buffer
// means more is waiting: no nap then. Sporadic output (smaller pieces) is never delayed.
constexpr ssize_t kBatchMin = 4096;
constexpr timespec kBatchNap = {0, 100 * 1000};

// <state>/spares/.stage for the spare dir <state>/spares/<name>: not the spare's own dir,
// which quiltd deletes at the claim while the init may still be moving what it staged.
std::string StageDirOf(const std::string& spare_dir) {
  return spare_dir.substr(0, spare_dir.rfind('/') + 1) + kSpareStageDirName;
}

// In the init: waits for the monitor's go (it placed the init in its cgroups, wrote its id
// maps); false when the monitor died or sent something else.
bool AwaitParentReady(int control) {
  ChannelMessage go;
  return recv(control, &go, sizeof(go), 0) == sizeof(go) && go.type == ChannelMessage::kParentReady;
}

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

bool ReadAll(int fd, std::string* out) {
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(chunk, static_cast<size_t>(n));
  }
}

bool ReadWholeFile(const std::string& path, std::string* out) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return fd.valid() && ReadAll(fd.get(), out);
}

// Temp file + rename so readers see all or nothing. Not synced: these files must survive a
// crash of quiltd, which they do once renamed. quiltd's own store commits are not synced
// either (WAL, synchronous=NORMAL), and after a machine crash no container runs any more.
bool WriteFileAtomically(const std::string& path, const std::string& content) {
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
  fd.Reset();
  return rename(temp.c_str(), path.c_str()) == 0;
}

// Rewrites the command line in place, as setproctitle does: "quilt-monitor\0<bundle_dir>\0",
// the rest zeroed. Left alone when it does not fit.
void Retitle(ArgvArea area, const std::string& bundle_dir) {
  const std::string title = std::string("quilt-monitor") + '\0' + bundle_dir + '\0';
  if (area.begin == nullptr || title.size() > area.size) return;
  memcpy(area.begin, title.data(), title.size());
  memset(area.begin + title.size(), 0, area.size - title.size());
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
  bool bulk = false;  // the last read or splice was large: splice the next output
};

// What one pass of the event loop moved out of the output pipes.
struct Drained {
  bool streaming = false;  // a pipe gave at least kBatchMin bytes and was emptied
  bool full = false;       // a read filled the buffer: more may be waiting

  void Note(ssize_t n) {
    if (n >= static_cast<ssize_t>(kLogMaxPayload)) {
      full = true;
    } else if (n >= kBatchMin) {
      streaming = true;
    }
  }
  bool Nap() const { return streaming && !full; }
};

class Monitor {
 public:
  explicit Monitor(std::string bundle_dir) : bundle_dir_(std::move(bundle_dir)) {}
  int Run();
  int RunSpare(std::vector<std::string> procs_files, ArgvArea argv);

 private:
  enum PipeIndex { kStdout = 0, kStderr = 1, kSetupStdout = 2, kSetupStderr = 3, kPipeCount };

  bool LoadConfig();
  bool OpenOutputs();
  bool CreatePipes();
  bool PrepareUserNamespace();
  bool CloneInit();
  [[noreturn]] void ChildMain();
  bool ReceiveClaim(int control);
  static std::string AwaitClaim(int fd);
  bool Claimable();
  bool HandOver();
  void KillInit();
  void Dismiss();
  int Finish();
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
  bool SpliceToLog(OutputPipe& pipe);
  void DrainStaging(const OutputPipe& pipe);
  void NoteLogWrite(bool written);
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
  // A spare (see monitor.h) clones its init before it has a container; after kParentReady the
  // init stages its kernel file systems and waits for the container's config.
  bool spare_ = false;
  StagedTrees staged_;  // in a spare's init: /proc, /dev and /sys mounted ahead, if they are
  ArgvArea argv_;       // a spare's command line, retitled once claimed
  std::optional<LogWriter> log_;
  bool log_failed_ = false;
  OutputPipe pipes_[kPipeCount];
  // Where SpliceToLog stages a record's bytes (see there); made at the first bulk output.
  UniqueFd staging_read_;
  UniqueFd staging_write_;
  bool splice_failed_ = false;  // the kernel refused a splice: copy from then on
  Drained drained_;             // by the last pass of the event loop
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

// The container's own files: the log, and the attach socket of an interactive workload.
bool Monitor::OpenOutputs() {
  log_ = LogWriter::Open(config_.log_path, {config_.log_max_bytes, config_.log_max_files});
  if (!log_.has_value()) {
    RecordFailure(StartStage::kPipes, errno, "open log " + config_.log_path);
    return false;
  }
  if ((config_.tty || config_.stdin_open) && !attach_.Listen(bundle_dir_, "attach.sock")) {
    RecordFailure(StartStage::kPipes, errno, "listen on " + bundle_dir_ + "/attach.sock");
    return false;
  }
  return true;
}

// What the init inherits: the output pipes, the control channel, a stdin pipe.
bool Monitor::CreatePipes() {
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
  if (spare_) {
    // Bringing up lo takes milliseconds, so a spare does it ahead, and mounts /proc, /dev and
    // /sys once in its cgroups (what they cost is charged to the container). A failure here
    // is found again, and reported, when the sandbox is set up.
    StartReport ignored;
    BringUpLoopback(&ignored);
    if (!AwaitParentReady(fds.control)) _exit(1);
    StartReport staging;
    if (!StageKernelFileSystems(StageDirOf(bundle_dir_), &staged_, &staging)) {
      Diag("stage kernel file systems (the claim mounts them): " + DescribeStartFailure(staging));
    }
    if (!ReceiveClaim(fds.control)) _exit(1);
  } else if (InitWaitsForParent() && !AwaitParentReady(fds.control)) {
    _exit(1);
  }
  ChannelMessage message;
  message.type = ChannelMessage::kFailed;
  if (ContainInit(&message.report)) RunContainerInit(config_, fds);
  SendChannelMessage(fds.control, message);
  _exit(1);
}

// In a spare's init: waits for its container, whose config.json arrives as an open fd. EOF
// (the spare was dismissed, or its monitor died) ends the init.
bool Monitor::ReceiveClaim(int control) {
  ChannelMessage message;
  UniqueFd config;
  if (ReceiveFd(control, &message, sizeof(message), &config) != sizeof(message) ||
      message.type != ChannelMessage::kClaimed || !config.valid()) {
    return false;
  }
  std::string text, error;
  if (!ReadAll(config.get(), &text) ||
      !monitor_codec::DecodeMonitorConfig(text, &config_, &error)) {
    return false;
  }
  Retitle(argv_, config_.bundle_dir);
  return true;
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
  sources.staged = std::move(staged_);
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
  if (SpliceToLog(pipe)) return;
  static uint8_t buffer[kLogMaxPayload];
  ssize_t n = read(pipe.read.get(), buffer, sizeof(buffer));
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    pipe.read.Reset();
    return;
  }
  drained_.Note(n);
  pipe.bulk = n >= kSpliceMin;
  // A failing log write (full disk) must not stop the draining, or the workload blocks:
  // the writer drops the output and marks the gap once it can write again.
  NoteLogWrite(log_->Append(pipe.stream, pipe.flags, buffer, static_cast<size_t>(n)));
  if (pipe.flags == 0) {
    attach_.Broadcast(pipe.stream == LogStreamId::kStderr ? kAttachStderr : kAttachStdout, buffer,
                      static_cast<size_t>(n));
  }
}

// The bulk path: when only the log wants the output, the kernel moves it from the pipe
// into the log file, a copy fewer than read and write. The bytes first go to a staging
// pipe, which takes only page references: the record's length is then known for its header,
// and the copy into the file holds the staging pipe's lock, not the output pipe's, so the
// workload goes on writing meanwhile (splicing straight to the file, or asking FIONREAD,
// made it wait for the monitor at every write). False when it does not apply or moved
// nothing; the read path then takes what is waiting, or the EOF.
bool Monitor::SpliceToLog(OutputPipe& pipe) {
  if (!pipe.bulk || splice_failed_ || attach_.listening() || log_failed_ ||
      log_->dropped_bytes() != 0) {
    return false;
  }
  if (!staging_read_.valid()) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      splice_failed_ = true;
      return false;
    }
    staging_read_.Reset(fds[0]);
    staging_write_.Reset(fds[1]);
    // Room for a whole record even when the output pipe's pages are partly filled.
    fcntl(fds[1], F_SETPIPE_SZ, 4 * kLogMaxPayload);
  }
  const ssize_t n = splice(pipe.read.get(), nullptr, staging_write_.get(), nullptr, kLogMaxPayload,
                           SPLICE_F_NONBLOCK);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n < 0) splice_failed_ = true;
  if (n <= 0) return false;
  drained_.Note(n);
  pipe.bulk = n >= kSpliceMin;
  const bool written =
      log_->AppendFromPipe(pipe.stream, pipe.flags, staging_read_.get(), static_cast<size_t>(n));
  NoteLogWrite(written);
  if (!written) DrainStaging(pipe);
  return true;
}

// After a failed splice into the log: what is still staged goes the read path's way.
void Monitor::DrainStaging(const OutputPipe& pipe) {
  static uint8_t buffer[kLogMaxPayload];
  for (;;) {
    ssize_t n = read(staging_read_.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    NoteLogWrite(log_->Append(pipe.stream, pipe.flags, buffer, static_cast<size_t>(n)));
  }
}

// Says once when log writes start failing (a full disk) and once when they work again.
void Monitor::NoteLogWrite(bool written) {
  if (written != log_failed_) return;
  log_failed_ = !written;
  Diag(written ? "log writes resumed" : "write log " + config_.log_path + ": " + strerror(errno));
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
  NoteLogWrite(log_->Append(LogStreamId::kStdout, 0, buffer, static_cast<size_t>(n)));
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
      if (!WriteFileAtomically(config_.state_path, SerializeMonitorState(state))) {
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
    if (drained_.Nap()) nanosleep(&kBatchNap, nullptr);
    drained_ = Drained();
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
    if (marked && WriteFileAtomically(config_.exit_path, SerializeMonitorExit(exit))) {
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
  if (OpenOutputs() && CreatePipes() && PrepareUserNamespace() && CloneInit()) {
    ReleaseInit();
    EventLoop();
  }
  return Finish();
}

int Monitor::Finish() {
  const bool written = WriteExit();
  // Attached clients see the end only once exit.json exists, so what they do next (Wait,
  // Get) finds the container finished or finishing, never running.
  attach_.Close();
  return written ? 0 : 1;
}

int Monitor::RunSpare(std::vector<std::string> procs_files, ArgvArea argv) {
  signal(SIGPIPE, SIG_IGN);
  setsid();
  start_pipe_.Reset(kStartPipeFd);
  UniqueFd claim(kClaimPipeFd);
  spare_ = true;
  argv_ = argv;
  // Until claimed, the config holds only what a spare fits (spare_pool.h): its cgroups and a
  // network namespace. Failures are reported as for a start.
  config_.cgroup_procs_files = std::move(procs_files);
  config_.new_network = true;
  if (!CreatePipes() || !CloneInit() || !JoinCgroups()) {
    Dismiss();
    return 1;
  }
  ChannelMessage go;
  go.type = ChannelMessage::kParentReady;
  if (!SendChannelMessage(control_.get(), go)) {
    Dismiss();
    return 1;
  }
  StartReport ready;
  ready.kind = StartReport::kReady;
  ready.init_pid = init_pid_;
  (void)!write(start_pipe_.get(), &ready, sizeof(ready));
  const std::string bundle_dir = AwaitClaim(claim.get());
  claim.Reset();
  if (bundle_dir.empty()) {
    Dismiss();
    return 0;
  }
  bundle_dir_ = bundle_dir;
  Retitle(argv_, bundle_dir_);
  UniqueFd diagnostics(open((bundle_dir_ + "/monitor.log").c_str(),
                            O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (diagnostics.valid()) {
    dup2(diagnostics.get(), 1);
    dup2(diagnostics.get(), 2);
  }
  if (LoadConfig() && Claimable() && OpenOutputs() && HandOver()) {
    EventLoop();
  } else {
    KillInit();
  }
  return Finish();
}

// The bundle dir quiltd writes to the claim pipe (NUL-terminated, one atomic write); empty
// on EOF: quiltd dismissed the spare, or died.
std::string Monitor::AwaitClaim(int fd) {
  char buffer[PIPE_BUF];
  ssize_t n;
  do {
    n = read(fd, buffer, sizeof(buffer));
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || buffer[n - 1] != '\0') return std::string();
  return std::string(buffer);
}

// What a spare cannot do: it cloned its init without a user namespace, with a network
// namespace and without a stdin pipe, outside any v2 cgroup, and its mount namespace may miss
// what the host mounted since. quiltd never claims one for such a container. (The config's
// v1 procs files are the container's, the spare's renamed: the init is in them already.)
bool Monitor::Claimable() {
  if (!UsesUserNamespace(config_) && config_.new_network && (config_.tty || !config_.stdin_open) &&
      config_.mounts.empty() && config_.cgroup_v2_dir.empty()) {
    return true;
  }
  RecordFailure(StartStage::kConfig, 0, "a prestarted init cannot run this container");
  return false;
}

// Lets the waiting init go on with the container's config.json (an open fd: the init may not
// see the bundle's path the same way).
bool Monitor::HandOver() {
  UniqueFd config(open((bundle_dir_ + "/config.json").c_str(), O_RDONLY | O_CLOEXEC));
  ChannelMessage message;
  message.type = ChannelMessage::kClaimed;
  if (!config.valid() || !SendFd(control_.get(), config.get(), &message, sizeof(message))) {
    RecordFailure(StartStage::kConfig, errno, "hand " + bundle_dir_ + "/config.json to the init");
    return false;
  }
  return true;
}

void Monitor::KillInit() {
  if (init_pid_ <= 0) return;
  kill(init_pid_, SIGKILL);
  while (waitpid(init_pid_, &init_status_, 0) < 0 && errno == EINTR) {
  }
  init_pid_ = -1;
}

// An unclaimed spare ends: its init, then its cgroups (quiltd removes them too, but it may
// be gone). The kernel may take a moment to release the killed init's cgroups.
void Monitor::Dismiss() {
  KillInit();
  for (const std::string& procs : config_.cgroup_procs_files) {
    const std::string dir = procs.substr(0, procs.rfind('/'));
    for (int attempt = 0; attempt < 100 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt) {
      usleep(1000);
    }
  }
}

}  // namespace

int RunMonitor(const std::string& bundle_dir) { return Monitor(bundle_dir).Run(); }

int RunSpareMonitor(const std::string& spare_dir, std::vector<std::string> procs_files,
                    ArgvArea argv) {
  return Monitor(spare_dir).RunSpare(std::move(procs_files), argv);
}

}  // namespace quilt
