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
#include "common/status_macros.h"

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

// The config goes in a memfd rather than a pipe: writing it can neither block nor raise
// SIGPIPE in quiltd when the helper dies early.
absl::StatusOr<UniqueFd> ConfigFile(absl::string_view data) {
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

}  // namespace

absl::StatusOr<ExecProcess> SpawnExecHelper(const std::string& monitor_path,
                                            const std::string& config_json, int init_pidfd,
                                            pid_t init_pid, const ExecIo& io) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd config, ConfigFile(config_json));
  QUILT_ASSIGN_OR_RETURN(Pipe out, MakePipe(O_NONBLOCK));
  QUILT_ASSIGN_OR_RETURN(Pipe err, MakePipe(O_NONBLOCK));
  QUILT_ASSIGN_OR_RETURN(Pipe status, MakePipe(0));
  QUILT_ASSIGN_OR_RETURN(Pipe lifeline, MakePipe(0));
  Pipe input;
  if (io.stdin_open && !io.tty) {
    QUILT_ASSIGN_OR_RETURN(input, MakePipe(0));
    if (::fcntl(input.write.get(), F_SETFL, O_NONBLOCK) != 0) {
      return ErrnoStatus("make exec stdin non-blocking");
    }
  }
  UniqueFd terminal_ours, terminal_theirs;
  if (io.tty) {
    int sockets[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) != 0) {
      return ErrnoStatus("create exec terminal socket");
    }
    terminal_ours.Reset(sockets[0]);
    terminal_theirs.Reset(sockets[1]);
  }

  // dup2 clears CLOEXEC on the copies, so exactly fds 0-5 reach the helper.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, config.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  posix_spawn_file_actions_adddup2(&actions, init_pidfd, 3);
  posix_spawn_file_actions_adddup2(&actions, status.write.get(), 4);
  posix_spawn_file_actions_adddup2(&actions, lifeline.read.get(), 5);
  if (input.read.valid()) posix_spawn_file_actions_adddup2(&actions, input.read.get(), 6);
  if (terminal_theirs.valid()) posix_spawn_file_actions_adddup2(&actions, terminal_theirs.get(), 7);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // As for the monitor: not quiltd's blocked signals nor its changed handlers.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string args[] = {"quilt-monitor",           "exec",
                        absl::StrCat(init_pid),    absl::StrCat(io.timeout_seconds),
                        io.stdin_open ? "1" : "0", io.tty ? "1" : "0",
                        absl::StrCat(io.rows),     absl::StrCat(io.columns)};
  char* argv[] = {args[0].data(), args[1].data(), args[2].data(), args[3].data(), args[4].data(),
                  args[5].data(), args[6].data(), args[7].data(), nullptr};
  pid_t pid = 0;
  const int spawn_error = posix_spawn(&pid, monitor_path.c_str(), &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawn_error != 0) return ErrnoStatus(spawn_error, absl::StrCat("spawn ", monitor_path));

  ExecProcess process;
  process.pid = pid;
  process.stdout_fd = std::move(out.read);
  process.stderr_fd = std::move(err.read);
  process.status_fd = std::move(status.read);
  process.lifeline = std::move(lifeline.write);
  process.stdin_fd = std::move(input.write);
  process.terminal_socket = std::move(terminal_ours);
  return process;
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
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace quilt
