#include "quiltd/runtime/exec_server_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/fd_passing.h"
#include "common/status_macros.h"
#include "quiltd/monitor/exec_helper.h"
#include "quiltd/monitor/exec_server_protocol.h"

namespace quilt {
namespace {

// The server answers as soon as a fork of it has taken the request; this only bounds a
// wedged one (the container's root can stop it: it is in the container's pid namespace).
constexpr int kReplyTimeoutMs = 5000;

absl::Status NotListening(const std::string& bundle_dir) {
  return absl::UnavailableError(absl::StrCat("no exec server listens in ", bundle_dir));
}

// Through /proc/self/fd: a bundle path may not fit a socket address.
absl::StatusOr<UniqueFd> Connect(const std::string& bundle_dir) {
  UniqueFd dir(::open(bundle_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(absl::StrCat("open ", bundle_dir));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string via = absl::StrCat("/proc/self/fd/", dir.get(), "/", kExecServerSocketName);
  memcpy(address.sun_path, via.c_str(), via.size() + 1);
  UniqueFd connection(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!connection.valid()) return ErrnoStatus("create exec server socket");
  if (::connect(connection.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno == ECONNREFUSED || errno == ENOENT) return NotListening(bundle_dir);
    return ErrnoStatus(absl::StrCat("connect to the exec server in ", bundle_dir));
  }
  return connection;
}

}  // namespace

absl::StatusOr<SentExecRequest> SendExecRequest(const std::string& bundle_dir,
                                                const std::string& config_json, const ExecIo& io) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd connection, Connect(bundle_dir));
  QUILT_ASSIGN_OR_RETURN(ExecChannels channels, MakeExecChannels(config_json, io));
  ExecServerRequest request;
  request.timeout_seconds = io.timeout_seconds;
  request.stdin_open = io.stdin_open ? 1 : 0;
  request.tty = io.tty ? 1 : 0;
  request.rows = io.rows;
  request.columns = io.columns;
  int fds[6] = {channels.config.get(),        channels.stdout_write.get(),
                channels.stderr_write.get(),  channels.status_write.get(),
                channels.lifeline_read.get(), -1};
  int count = 5;
  if (channels.stdin_read.valid()) fds[count++] = channels.stdin_read.get();
  if (channels.terminal_socket.valid()) fds[count++] = channels.terminal_socket.get();
  // The datagram holds its own references to the fds: ours of the server's ends go with
  // `channels` on return.
  if (!SendFds(connection.get(), fds, count, &request, sizeof(request))) {
    if (errno == EPIPE || errno == ECONNRESET) return NotListening(bundle_dir);
    return ErrnoStatus("send exec request");
  }
  return SentExecRequest{bundle_dir, std::move(connection), std::move(channels.ours)};
}

absl::StatusOr<ExecProcess> AwaitExecAccepted(SentExecRequest sent) {
  pollfd ready{sent.connection.get(), POLLIN, 0};
  int polled;
  do {
    polled = ::poll(&ready, 1, kReplyTimeoutMs);
  } while (polled < 0 && errno == EINTR);
  if (polled == 0) {
    return absl::DeadlineExceededError(
        absl::StrCat("the exec server in ", sent.bundle_dir, " did not answer"));
  }
  char reply[512];
  ssize_t n;
  do {
    n = ::recv(sent.connection.get(), reply, sizeof(reply), 0);
  } while (n < 0 && errno == EINTR);
  if (n == 1 && reply[0] == kExecServerAccepted) return std::move(sent.process);
  // No reply: the server (or its fork) ended before taking the request.
  if (n == 0 || (n < 0 && errno == ECONNRESET)) {
    return absl::UnavailableError(
        absl::StrCat("the exec server in ", sent.bundle_dir, " let the request go"));
  }
  if (n < 0) return ErrnoStatus("read the exec server's reply");
  if (n == 1 && reply[0] == kExecServerRefused) {
    return absl::InternalError("exec: the exec server refused quiltd as a peer");
  }
  const absl::string_view text(reply, static_cast<size_t>(n));
  if (!absl::StartsWith(text, "error ")) {
    return absl::InternalError(absl::StrCat("exec: unexpected exec server reply \"", text, "\""));
  }
  return ParseExecStatus(text).status();
}

absl::StatusOr<ExecProcess> RequestExec(const std::string& bundle_dir,
                                        const std::string& config_json, const ExecIo& io) {
  QUILT_ASSIGN_OR_RETURN(SentExecRequest sent, SendExecRequest(bundle_dir, config_json, io));
  return AwaitExecAccepted(std::move(sent));
}

absl::Status StartExecServer(const std::string& monitor_path, const std::string& config_json,
                             int init_pidfd, pid_t init_pid) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd config, ExecConfigFile(config_json));
  int status_pipe[2];
  if (::pipe2(status_pipe, O_CLOEXEC) != 0) return ErrnoStatus("create exec server status pipe");
  UniqueFd status_read(status_pipe[0]);
  UniqueFd status_write(status_pipe[1]);
  QUILT_ASSIGN_OR_RETURN(
      const pid_t pid,
      SpawnMonitorMode(
          monitor_path, {"quilt-monitor", "exec-server", absl::StrCat(init_pid)},
          {{config.get(), 0}, {init_pidfd, kExecInitPidfd}, {status_write.get(), kExecStatusFd}}));
  status_write.Reset();
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  // Read once the starter is gone: the server it left may hold the pipe a moment longer, so
  // EOF is not waited for. The line is far below a pipe's capacity.
  if (::fcntl(status_read.get(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoStatus("read exec server status");
  }
  std::string text;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(status_read.get(), buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<size_t>(n));
  }
  if (absl::StartsWith(text, "ok\n")) return absl::OkStatus();
  if (absl::StartsWith(text, "error ")) return ParseExecStatus(text).status();
  return absl::InternalError(absl::StrCat("exec: the exec server's start ended (status ",
                                          wait_status, ") without a status: \"", text, "\""));
}

}  // namespace quilt
