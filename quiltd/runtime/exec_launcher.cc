#include "quiltd/runtime/exec_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/fd_passing.h"
#include "common/spawn_fds.h"
#include "common/status_macros.h"
#include "quiltd/monitor/exec_helper.h"

extern char** environ;

namespace quilt {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

absl::StatusOr<Pipe> MakePipe(int read_flags) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("create exec pipe");
  Pipe pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  if (read_flags != 0 && ::fcntl(fds[0], F_SETFL, read_flags) != 0) {
    return ErrnoStatus("make exec pipe non-blocking");
  }
  return pipe;
}

}  // namespace

// The config goes in a memfd rather than a pipe: writing it can neither block nor raise
// SIGPIPE in quiltd when the helper dies early.
absl::StatusOr<UniqueFd> ExecConfigFile(absl::string_view data) {
  UniqueFd fd(::memfd_create("quilt-exec-config", MFD_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("create exec config");
  while (!data.empty()) {
    ssize_t n = ::write(fd.get(), data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("write exec config");
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return ErrnoStatus("rewind exec config");
  return fd;
}

absl::StatusOr<ExecChannels> MakeExecChannels(const std::string& config_json, const ExecIo& io) {
  ExecChannels channels;
  QUILT_ASSIGN_OR_RETURN(channels.config, ExecConfigFile(config_json));
  QUILT_ASSIGN_OR_RETURN(Pipe out, MakePipe(O_NONBLOCK));
  QUILT_ASSIGN_OR_RETURN(Pipe err, MakePipe(O_NONBLOCK));
  QUILT_ASSIGN_OR_RETURN(Pipe status, MakePipe(0));
  QUILT_ASSIGN_OR_RETURN(Pipe lifeline, MakePipe(0));
  if (io.stdin_open && !io.tty) {
    QUILT_ASSIGN_OR_RETURN(Pipe input, MakePipe(0));
    if (::fcntl(input.write.get(), F_SETFL, O_NONBLOCK) != 0) {
      return ErrnoStatus("make exec stdin non-blocking");
    }
    channels.stdin_read = std::move(input.read);
    channels.ours.stdin_fd = std::move(input.write);
  }
  if (io.tty) {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
      return ErrnoStatus("create exec terminal socket");
    }
    channels.ours.terminal_socket.Reset(sockets[0]);
    channels.terminal_socket.Reset(sockets[1]);
  }
  channels.stdout_write = std::move(out.write);
  channels.stderr_write = std::move(err.write);
  channels.status_write = std::move(status.write);
  channels.lifeline_read = std::move(lifeline.read);
  channels.ours.stdout_fd = std::move(out.read);
  channels.ours.stderr_fd = std::move(err.read);
  channels.ours.status_fd = std::move(status.read);
  channels.ours.lifeline = std::move(lifeline.write);
  return channels;
}

absl::StatusOr<pid_t> SpawnMonitorMode(const std::string& monitor_path,
                                       std::vector<std::string> args,
                                       const std::vector<std::pair<int, int>>& fds) {
  // Exactly the listed fds reach the process, with /dev/null for the stdio it is not given.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::vector<UniqueFd> copies;
  if (absl::Status placed = AddFdPlacements(&actions, fds, &copies); !placed.ok()) {
    posix_spawn_file_actions_destroy(&actions);
    return placed;
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // As for the monitor: not quiltd's blocked signals nor its changed handlers.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, monitor_path.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawn_error != 0) return ErrnoStatus(spawn_error, absl::StrCat("spawn ", monitor_path));
  return pid;
}

absl::StatusOr<ExecProcess> SpawnExecHelper(const std::string& monitor_path,
                                            const std::string& config_json, int init_pidfd,
                                            pid_t init_pid, const ExecIo& io) {
  QUILT_ASSIGN_OR_RETURN(ExecChannels channels, MakeExecChannels(config_json, io));
  std::vector<std::pair<int, int>> fds = {{channels.config.get(), 0},
                                          {channels.stdout_write.get(), 1},
                                          {channels.stderr_write.get(), 2},
                                          {init_pidfd, kExecInitPidfd},
                                          {channels.status_write.get(), kExecStatusFd},
                                          {channels.lifeline_read.get(), kExecLifelineFd}};
  if (channels.stdin_read.valid()) fds.emplace_back(channels.stdin_read.get(), kExecStdinFd);
  if (channels.terminal_socket.valid()) {
    fds.emplace_back(channels.terminal_socket.get(), kExecTerminalFd);
  }
  QUILT_ASSIGN_OR_RETURN(
      channels.ours.pid,
      SpawnMonitorMode(monitor_path,
                       {"quilt-monitor", "exec", absl::StrCat(init_pid),
                        absl::StrCat(io.timeout_seconds), io.stdin_open ? "1" : "0",
                        io.tty ? "1" : "0", absl::StrCat(io.rows), absl::StrCat(io.columns)},
                       fds));
  return std::move(channels.ours);
}

absl::StatusOr<UniqueFd> ReceiveExecTerminal(int terminal_socket) {
  char tag = 0;
  UniqueFd master;
  const ssize_t n = ReceiveFd(terminal_socket, &tag, 1, &master);
  if (n < 0) return ErrnoStatus("receive exec terminal");
  if (!master.valid()) return absl::NotFoundError("exec: the helper sent no terminal");
  if (::fcntl(master.get(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoStatus("make exec terminal non-blocking");
  }
  return master;
}

absl::StatusOr<ExecResult> ParseExecStatus(absl::string_view text) {
  text = absl::StripTrailingAsciiWhitespace(text);
  if (absl::ConsumePrefix(&text, "error ")) {
    std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, ' ');
    int error = 0;
    const std::string message(text.substr(std::min(text.size(), parts.first.size() + 1)));
    if (absl::SimpleAtoi(parts.first, &error) && error == ESRCH) {
      return absl::FailedPreconditionError(
          absl::StrCat("exec: container is not running (", message, ")"));
    }
    return absl::InternalError(absl::StrCat("exec: ", message));
  }
  std::vector<absl::string_view> fields = absl::StrSplit(text, ' ');
  ExecResult result;
  int timed_out = 0;
  if (fields.size() != 4 || fields[0] != "exit" ||
      !absl::SimpleAtoi(fields[1], &result.exit_code) ||
      !absl::SimpleAtoi(fields[2], &result.signal) || !absl::SimpleAtoi(fields[3], &timed_out)) {
    return absl::InternalError(
        absl::StrCat("exec: helper ended without a valid status: \"", text, "\""));
  }
  result.timed_out = timed_out != 0;
  return result;
}

void ReapExecHelper(pid_t pid) {
  if (pid <= 0) return;  // served by the container's exec server: no child of quiltd
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace quilt
