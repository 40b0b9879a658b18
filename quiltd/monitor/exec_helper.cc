#include "quiltd/monitor/exec_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "quiltd/monitor/container_init.h"
#include "quiltd/monitor/exec_hardening.h"
#include "quiltd/monitor/monitor_codec.h"
#include "quiltd/monitor/terminal.h"

namespace quilt {
namespace {

bool ReadAll(int fd, std::string* out) {
  char buffer[65536];
  for (;;) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buffer, static_cast<size_t>(n));
  }
}

// A plain string, so that passing errno and the message cannot clobber errno first.
int Fail(int error, const char* message) {
  dprintf(kExecStatusFd, "error %d %s: %s\n", error, message, strerror(error));
  return 1;
}

bool Failed(int error, const char* message) {
  Fail(error, message);
  return false;
}

bool WriteFile(const std::string& path, const std::string& text) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return fd.valid() &&
         write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
}

// The cgroup comes before setns: once in the container's cgroup namespace, the container's
// cgroup directories are no longer reachable by their host paths.
int JoinCgroup(const MonitorConfig& config) {
  const std::string pid = std::to_string(getpid());
  std::vector<std::string> files = config.cgroup_procs_files;
  if (!config.cgroup_v2_dir.empty()) files.push_back(config.cgroup_v2_dir + "/cgroup.procs");
  for (const std::string& procs : files) {
    if (!WriteFile(procs, pid)) {
      const int error = errno;
      return Fail(error, ("join cgroup " + procs).c_str());
    }
  }
  return 0;
}

// Milliseconds left until `deadline` (CLOCK_MONOTONIC seconds), or -1 for none.
int RemainingMs(const timespec& deadline, bool has_deadline) {
  if (!has_deadline) return -1;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long ms =
      (deadline.tv_sec - now.tv_sec) * 1000LL + (deadline.tv_nsec - now.tv_nsec) / 1000000;
  return ms < 0 ? 0 : static_cast<int>(ms);
}

void KillCommand(pid_t child) {
  kill(-child, SIGKILL);
  kill(child, SIGKILL);
}

// Waits for `child`; kills its process group on timeout or when quiltd closes the lifeline.
int WaitWithTimeout(pid_t child, int timeout_seconds, bool* timed_out) {
  UniqueFd child_fd(static_cast<int>(syscall(SYS_pidfd_open, child, 0)));
  timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += timeout_seconds;
  bool killed = false;
  while (!killed && child_fd.valid()) {
    pollfd fds[2] = {{child_fd.get(), POLLIN, 0}, {kExecLifelineFd, POLLIN, 0}};
    int ready = poll(fds, 2, RemainingMs(deadline, timeout_seconds > 0));
    if (ready < 0 && errno == EINTR) continue;
    if (fds[0].revents != 0) break;
    if (ready == 0) *timed_out = true;
    if (ready == 0 || fds[1].revents != 0) {
      KillCommand(child);
      killed = true;
    }
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

int RunCommand(const MonitorConfig& config, const ExecHardening& hardening, CommandStdio stdio,
               int timeout_seconds) {
  const CommandLine command = MakeCommandLine(config);
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0) return Fail(errno, "create exec status pipe");
  pid_t child = fork();
  if (child == 0) BecomeCommand(config, hardening, command, stdio, status_pipe[1]);
  close(status_pipe[1]);
  UniqueFd status_read(status_pipe[0]);
  if (child < 0) return Fail(errno, "fork command");
  // Only the command may keep its stdin and terminal open: quiltd sees EOF (or EIO on the
  // master) once it and everything it started are gone.
  stdio.terminal_slave.Reset();
  stdio.stdin_fd.Reset();
  return ReportCommand(child, status_read.get(), timeout_seconds);
}

}  // namespace

// Inside the container: the terminal comes from the container's devpts; quiltd gets the
// master before the command starts, so no output is missed.
int OpenCommandTerminal(const MonitorConfig& config, const ExecHelperOptions& options,
                        UniqueFd* slave) {
  // devpts gives a new slave the creator's fsuid. In a user namespace the helper is still
  // host root, unmapped there, and the kernel refuses to chown an inode whose owner the
  // namespace cannot map (EPERM): the terminal is made as the namespace's root instead. The
  // command's setresuid resets the fsuid.
  if (config.userns_size > 0) {
    setfsgid(0);
    setfsuid(0);
    if (setfsuid(static_cast<uid_t>(-1)) != 0 || setfsgid(static_cast<gid_t>(-1)) != 0) {
      return Fail(EPERM, "become the user namespace's root for the terminal");
    }
  }
  Terminal terminal;
  const char* step = nullptr;
  const int error = OpenTerminal(options.rows, options.columns, config.uid, &terminal, &step);
  if (error != 0) return Fail(error, step);
  const char tag = 't';
  if (!SendFd(kExecTerminalFd, terminal.master.get(), &tag, 1)) {
    return Fail(errno, "send terminal to quiltd");
  }
  *slave = std::move(terminal.slave);
  return 0;
}

[[noreturn]] void BecomeCommand(const MonitorConfig& config, const ExecHardening& hardening,
                                const CommandLine& command, const CommandStdio& stdio,
                                int exec_status_fd) {
  if (stdio.terminal_slave.valid()) {
    const char* step = nullptr;
    const int error = AttachToTerminal(stdio.terminal_slave.get(), &step);
    if (error != 0) FailExec(exec_status_fd, error, 126, step);
  } else {
    setpgid(0, 0);
    dup2(stdio.stdin_fd.get(), 0);
  }
  CloseFdsExcept(&exec_status_fd, 1);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  ExecWorkload(config, hardening, command, exec_status_fd);
}

int ReportCommand(pid_t child, int exec_status_read, int timeout_seconds) {
  bool timed_out = false;
  const int status = WaitWithTimeout(child, timeout_seconds, &timed_out);
  // Read only once the child is gone, so that its exec is not one more wakeup here: EOF
  // without data means the exec succeeded (the pipe is CLOEXEC); a failed exec wrote why,
  // then exited at once.
  ExecError failure;
  ssize_t n;
  do {
    n = read(exec_status_read, &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    failure.detail[sizeof(failure.detail) - 1] = '\0';
    dprintf(2, "quilt: %s: %s\n", failure.detail, strerror(failure.error));
  }
  const int signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  const int code = signal_number != 0 ? 128 + signal_number : WEXITSTATUS(status);
  dprintf(kExecStatusFd, "exit %d %d %d\n", code, signal_number, timed_out ? 1 : 0);
  // quiltd ends the exec at the status pipe's EOF: now, not after this process's teardown.
  close(kExecStatusFd);
  return 0;
}

bool ReadExecConfig(int fd, MonitorConfig* config) {
  std::string text;
  if (!ReadAll(fd, &text)) return Failed(errno, "read exec config");
  std::string error;
  if (!monitor_codec::DecodeMonitorConfig(text, config, &error)) {
    dprintf(kExecStatusFd, "error %d %s\n", EINVAL, error.c_str());
    return false;
  }
  return true;
}

bool PrepareExecHardening(const MonitorConfig& config, ExecHardening* hardening) {
  StartReport report;
  if (hardening->Prepare(config, &report)) return true;
  report.detail[sizeof(report.detail) - 1] = '\0';
  return Failed(report.error, report.detail);
}

// setns(CLONE_NEWNS) leaves the caller at the namespace's original root, not at the root the
// init pivoted into; the init's /proc/<pid>/root, opened before, is the container's "/".
bool EnterContainer(const MonitorConfig& config, pid_t init_pid) {
  UniqueFd root(open(("/proc/" + std::to_string(init_pid) + "/root").c_str(),
                     O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Failed(errno, "open container root");
  // The pidfd pins the init: if it is still alive, the root just opened was its own.
  if (syscall(SYS_pidfd_send_signal, kExecInitPidfd, 0, nullptr, 0) != 0) {
    return Failed(errno, "check container init");
  }
  if (JoinCgroup(config) != 0) return false;
  int flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWCGROUP;
  if (config.new_network) flags |= CLONE_NEWNET;
  // The kernel joins the user namespace first, so the others (which it owns) accept us. The
  // helper's ids are then host root's, unmapped there: the command's setuid/setgid (container
  // ids) make it a user of the namespace.
  if (config.userns_size > 0) flags |= CLONE_NEWUSER;
  if (setns(kExecInitPidfd, flags) != 0) return Failed(errno, "join container namespaces");
  if (fchdir(root.get()) != 0 || chroot(".") != 0) {
    return Failed(errno, "enter container root");
  }
  return true;
}

int RunExecCommand(const MonitorConfig& config, const ExecHardening& hardening,
                   const ExecHelperOptions& options, int null_fd) {
  UniqueFd stdin_fd(
      fcntl(options.stdin_open && !options.tty ? kExecStdinFd : null_fd, F_DUPFD_CLOEXEC, 0));
  if (!stdin_fd.valid()) return Fail(errno, "open exec stdin");
  UniqueFd slave;
  if (options.tty && OpenCommandTerminal(config, options, &slave) != 0) return 1;
  return RunCommand(config, hardening, CommandStdio{std::move(stdin_fd), std::move(slave)},
                    options.timeout_seconds);
}

int RunExecHelper(const ExecHelperOptions& options) {
  // Like the init: the forked child is in the container's pid namespace before its exec, and
  // its /proc/<pid>/exe is the host's quilt-monitor binary. Not dumpable, that entry is closed
  // to the container's processes (CVE-2019-5736); exec makes the command dumpable again.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  MonitorConfig config;
  if (!ReadExecConfig(0, &config)) return 1;
  // Opened on the host: the container's /dev/null is only a bind of it anyway.
  UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return Fail(errno, "open /dev/null");
  ExecHardening hardening;
  if (!PrepareExecHardening(config, &hardening)) return 1;
  if (!EnterContainer(config, options.init_pid)) return 1;
  return RunExecCommand(config, hardening, options, null_fd.get());
}

}  // namespace quilt
