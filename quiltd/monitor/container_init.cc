#include "quiltd/monitor/container_init.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "quiltd/monitor/channel.h"
#include "quiltd/monitor/exec_hardening.h"
#include "quiltd/monitor/terminal.h"

namespace quilt {
namespace {

constexpr int kForwardedSignals[] = {SIGTERM, SIGINT,  SIGHUP,   SIGQUIT,
                                     SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::vector<char*> PointersTo(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

[[noreturn]] void ReportAndExit(int control, const StartReport& report) {
  ChannelMessage message;
  message.type = ChannelMessage::kFailed;
  message.report = report;
  SendChannelMessage(control, message);
  _exit(1);
}

// Everything a child of the init does before exec: stdio, no leaked fds, and the default
// signal state (the init blocks signals and the monitor ignores SIGPIPE; both are inherited
// across exec).
void PrepareChild(int in, int out, int err, int keep_fd) {
  dup2(in, 0);
  dup2(out, 1);
  dup2(err, 2);
  CloseFdsExcept(&keep_fd, keep_fd >= 0 ? 1 : 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
}

std::string EnvValue(const std::vector<std::string>& env, const std::string& name) {
  for (const std::string& entry : env) {
    if (entry.compare(0, name.size() + 1, name + "=") == 0) return entry.substr(name.size() + 1);
  }
  return "";
}

// execvpe with the container's PATH (glibc's would use the monitor's). Like execvp: ENOENT
// and ENOTDIR move on to the next directory, EACCES is remembered and reported if nothing
// else runs. A directory that does not hold the file is skipped by a lookup alone: a failed
// execve costs far more (a new mm, the seccomp filter), and most commands live in the
// fourth or later directory of the default PATH.
void ExecSearchingPath(const CommandLine& command, const std::string& path_value) {
  const char* file = command.argv[0];
  if (strchr(file, '/') != nullptr) {
    execve(file, command.argv.data(), command.envp.data());
    return;
  }
  std::string search = path_value.empty() ? kDefaultPath : path_value;
  bool saw_eacces = false;
  size_t start = 0;
  while (start <= search.size()) {
    size_t end = std::min(search.find(':', start), search.size());
    std::string dir = search.substr(start, end - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + file;
    start = end + 1;
    if (access(candidate.c_str(), F_OK) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
      continue;
    }
    execve(candidate.c_str(), command.argv.data(), command.envp.data());
    if (errno == EACCES) {
      saw_eacces = true;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      return;
    }
  }
  errno = saw_eacces ? EACCES : ENOENT;
}

}  // namespace

[[noreturn]] void FailExec(int status_fd, int error, int exit_code, const std::string& detail) {
  ExecError failure;
  failure.error = error;
  failure.exit_code = exit_code;
  snprintf(failure.detail, sizeof(failure.detail), "%s", detail.c_str());
  (void)!write(status_fd, &failure, sizeof(failure));
  _exit(exit_code);
}

// In the forked workload process: hardening around the identity change (supplementary
// groups before gid before uid, since each step drops the privilege the next one needs),
// working dir, exec. The working dir is entered with the final credentials, so it is
// refused exactly when the workload itself could not enter it.
[[noreturn]] void ExecWorkload(const MonitorConfig& config, const ExecHardening& hardening,
                               const CommandLine& command, int status_fd) {
  const char* step = nullptr;
  int error = hardening.Restrict(&step);
  if (error != 0) FailExec(status_fd, error, 126, step);
  if (setgroups(config.additional_gids.size(), config.additional_gids.data()) != 0) {
    FailExec(status_fd, errno, 126, "setgroups");
  }
  if (setgid(config.gid) != 0) FailExec(status_fd, errno, 126, "setgid");
  if (setuid(config.uid) != 0) FailExec(status_fd, errno, 126, "setuid");
  error = hardening.Lock(config.uid, &step);
  if (error != 0) FailExec(status_fd, error, 126, step);
  if (chdir(config.working_dir.c_str()) != 0) {
    FailExec(status_fd, errno, 126, "working directory " + config.working_dir);
  }
  ExecSearchingPath(command, EnvValue(config.env, "PATH"));
  error = errno;
  FailExec(status_fd, error, error == ENOENT ? 127 : 126, "exec " + config.argv[0]);
}

CommandLine MakeCommandLine(const MonitorConfig& config) {
  CommandLine command;
  command.argv_storage = config.argv;
  command.env_storage = config.env;
  command.argv = PointersTo(command.argv_storage);
  command.envp = PointersTo(command.env_storage);
  return command;
}

namespace {

// A setup command's child: root, with the workload's capability set and filter. A failure
// is written to the setup stderr, so it shows in the log next to the failed command.
[[noreturn]] void ExecSetupCommand(const ExecHardening& hardening, char** argv, char** envp) {
  const char* step = nullptr;
  int error = hardening.Restrict(&step);
  if (error == 0) error = hardening.Lock(0, &step);
  if (error == 0) {
    execve("/bin/sh", argv, envp);
    step = "exec /bin/sh";
    error = errno;
  }
  dprintf(2, "quilt: %s: %s\n", step, strerror(error));
  _exit(error == ENOENT ? 127 : 126);
}

// Waits for `pid`, reaping any other child (re-parented orphans) meanwhile.
int WaitFor(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t done = waitpid(-1, &status, 0);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return status;
  }
}

int ExitCodeOf(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

void RunSetupCommands(const MonitorConfig& config, const ExecHardening& hardening,
                      const InitFds& fds, int null_fd, std::vector<std::string> env) {
  std::vector<char*> envp = PointersTo(env);
  for (size_t i = 0; i < config.setup.size(); ++i) {
    std::string argv_storage[] = {"sh", "-c", config.setup[i]};
    char* argv[] = {argv_storage[0].data(), argv_storage[1].data(), argv_storage[2].data(),
                    nullptr};
    pid_t pid = fork();
    if (pid == 0) {
      PrepareChild(null_fd, fds.setup_stdout, fds.setup_stderr, -1);
      ExecSetupCommand(hardening, argv, envp.data());
    }
    StartReport report;
    if (pid < 0) {
      SetStartFailure(&report, StartStage::kSetup, errno, config.setup[i].c_str());
      ReportAndExit(fds.control, report);
    }
    int code = ExitCodeOf(WaitFor(pid));
    if (code != 0) {
      SetStartFailure(&report, StartStage::kSetup, 0, config.setup[i].c_str());
      report.setup_index = static_cast<int32_t>(i);
      report.exit_code = code;
      ReportAndExit(fds.control, report);
    }
  }
}

// With config.tty: a terminal from the container's devpts (the init is past pivot_root), its
// master handed to the monitor, which logs and relays it. Returns the slave.
UniqueFd OpenWorkloadTerminal(const MonitorConfig& config, int control) {
  Terminal terminal;
  const char* step = nullptr;
  StartReport report;
  int error = OpenTerminal(0, 0, config.uid, &terminal, &step);
  ChannelMessage message;
  message.type = ChannelMessage::kTerminal;
  if (error == 0 && !SendFd(control, terminal.master.get(), &message, sizeof(message))) {
    error = errno;
    step = "send terminal to the monitor";
  }
  if (error != 0) {
    SetStartFailure(&report, StartStage::kExec, error, step);
    ReportAndExit(control, report);
  }
  return std::move(terminal.slave);
}

// In the workload's child: its stdio (the terminal, which also becomes its controlling
// terminal in a new session; or the stdin pipe or /dev/null and the output pipes).
void PrepareWorkloadChild(const InitFds& fds, int null_fd, int terminal, int status_fd) {
  if (terminal < 0) {
    PrepareChild(fds.stdin_pipe >= 0 ? fds.stdin_pipe : null_fd, fds.stdout_pipe, fds.stderr_pipe,
                 status_fd);
    return;
  }
  const char* step = nullptr;
  const int error = AttachToTerminal(terminal, &step);
  if (error != 0) FailExec(status_fd, error, 126, step);
  PrepareChild(0, 1, 2, status_fd);
}

// Starts the workload; returns its pid once it has exec'd. The exec-status pipe is CLOEXEC,
// so EOF without data means the exec succeeded.
pid_t StartWorkload(const MonitorConfig& config, const ExecHardening& hardening, const InitFds& fds,
                    int null_fd) {
  const CommandLine command = MakeCommandLine(config);
  UniqueFd terminal;
  if (config.tty) terminal = OpenWorkloadTerminal(config, fds.control);
  int status_pipe[2];
  StartReport report;
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    SetStartFailure(&report, StartStage::kExec, errno, "create exec status pipe");
    ReportAndExit(fds.control, report);
  }
  pid_t pid = fork();
  if (pid == 0) {
    PrepareWorkloadChild(fds, null_fd, terminal.get(), status_pipe[1]);
    ExecWorkload(config, hardening, command, status_pipe[1]);
  }
  // Only the workload and its children may hold the terminal: the monitor sees EIO on the
  // master once they are all gone.
  terminal.Reset();
  close(status_pipe[1]);
  UniqueFd status_read(status_pipe[0]);
  if (pid < 0) {
    SetStartFailure(&report, StartStage::kExec, errno, "fork workload");
    ReportAndExit(fds.control, report);
  }
  ExecError failure;
  ssize_t n;
  do {
    n = read(status_read.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    WaitFor(pid);
    SetStartFailure(&report, StartStage::kExec, failure.error, failure.detail);
    report.exit_code = failure.exit_code;
    ReportAndExit(fds.control, report);
  }
  return pid;
}

// A pid-1 init gets no signal it has no handler for, so the forwarded ones are blocked and
// read from a signalfd. Blocking happens before any fork so no SIGCHLD is missed.
UniqueFd BlockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int sig : kForwardedSignals) sigaddset(&set, sig);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  return UniqueFd(signalfd(-1, &set, SFD_CLOEXEC));
}

[[noreturn]] void ForwardSignalsUntilExit(int signal_fd, int control, pid_t workload) {
  for (;;) {
    signalfd_siginfo info;
    ssize_t n = read(signal_fd, &info, sizeof(info));
    if (n != sizeof(info)) {
      if (n < 0 && errno == EINTR) continue;
      _exit(1);
    }
    if (info.ssi_signo != SIGCHLD) {
      kill(workload, static_cast<int>(info.ssi_signo));
      continue;
    }
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid != workload) continue;
      ChannelMessage message;
      message.type = ChannelMessage::kWorkloadExited;
      message.value = status;
      SendChannelMessage(control, message);
      // Exiting kills every other process in the pid namespace.
      _exit(0);
    }
  }
}

}  // namespace

void CloseFdsExcept(const int* keep, int count) {
  std::vector<int> sorted(keep, keep + count);
  std::sort(sorted.begin(), sorted.end());
  unsigned int next = 3;
  for (int fd : sorted) {
    if (fd < static_cast<int>(next)) continue;
    if (static_cast<unsigned int>(fd) > next) syscall(SYS_close_range, next, fd - 1, 0);
    next = fd + 1;
  }
  syscall(SYS_close_range, next, ~0U, 0);
}

void RunContainerInit(const MonitorConfig& config, const InitFds& fds) {
  prctl(PR_SET_NAME, "quilt-init", 0, 0, 0);
  // The init is the monitor's clone, so /proc/1/exe is the host's quilt-monitor binary. Not
  // dumpable, its /proc entries (exe, mem, fd, environ) are closed to the container's
  // processes unless they hold CAP_SYS_PTRACE: a workload cannot reopen the binary to
  // overwrite it (CVE-2019-5736) nor reach the init's fds. Children inherit this only until
  // their exec.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  UniqueFd signal_fd = BlockSignals();
  UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  StartReport report;
  if (!signal_fd.valid() || !null_fd.valid()) {
    SetStartFailure(&report, StartStage::kExec, errno,
                    signal_fd.valid() ? "open /dev/null" : "signalfd");
    ReportAndExit(fds.control, report);
  }
  ExecHardening hardening;
  if (!hardening.Prepare(config, &report)) ReportAndExit(fds.control, report);
  RunSetupCommands(config, hardening, fds, null_fd.get(), config.env);
  // Setup output is over: closing these lets the monitor see EOF on the setup pipes.
  close(fds.setup_stdout);
  close(fds.setup_stderr);
  pid_t workload = StartWorkload(config, hardening, fds, null_fd.get());
  close(fds.stdout_pipe);
  close(fds.stderr_pipe);
  if (fds.stdin_pipe >= 0) close(fds.stdin_pipe);
  ChannelMessage running;
  running.type = ChannelMessage::kRunning;
  running.value = workload;
  SendChannelMessage(fds.control, running);
  ForwardSignalsUntilExit(signal_fd.get(), fds.control, workload);
}

}  // namespace quilt
