#include "quiltd/runtime/attach_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/fd_passing.h"
#include "common/status_macros.h"
#include "quiltd/monitor/attach_server.h"

namespace quilt {
namespace {

// The monitor answers at once from its event loop; this only bounds a wedged monitor.
constexpr int kGreetingTimeoutMs = 5000;

std::string DirOf(const std::string& path) { return path.substr(0, path.rfind('/')); }
std::string NameOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

}  // namespace

absl::StatusOr<AttachConnection> ConnectAttach(const std::string& socket_path) {
  UniqueFd dir(::open(DirOf(socket_path).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(absl::StrCat("open ", DirOf(socket_path)));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string via = absl::StrCat("/proc/self/fd/", dir.get(), "/", NameOf(socket_path));
  if (via.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("attach socket name too long: ", via));
  }
  memcpy(address.sun_path, via.c_str(), via.size() + 1);
  AttachConnection connection;
  connection.socket.Reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!connection.socket.valid()) return ErrnoStatus("create attach socket");
  if (::connect(connection.socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    if (errno == ECONNREFUSED || errno == ENOENT) {
      return absl::UnavailableError("attach: the workload's monitor is not listening any more");
    }
    return ErrnoStatus(absl::StrCat("connect to ", socket_path));
  }
  pollfd ready{connection.socket.get(), POLLIN, 0};
  if (::poll(&ready, 1, kGreetingTimeoutMs) != 1) {
    return absl::DeadlineExceededError("attach: the monitor did not answer");
  }
  char tag = 0;
  const ssize_t n = ReceiveFd(connection.socket.get(), &tag, 1, &connection.input);
  // Let go before or after the accept: the workload just ended (the monitor closes its
  // listener with connections still queued), or more clients than it serves.
  if (n == 0 || (n < 0 && errno == ECONNRESET)) {
    return absl::UnavailableError("attach: the monitor closed the connection");
  }
  if (n < 0) return ErrnoStatus("attach: read the monitor's greeting");
  if (tag == kAttachRefused) {
    return absl::ResourceExhaustedError(
        absl::StrCat("attach: ", kAttachMaxClients, " clients are attached already"));
  }
  connection.tty = tag == kAttachTty || tag == kAttachTtyStdin;
  connection.stdin_open = tag == kAttachTtyStdin || tag == kAttachStdinPipe;
  if (connection.input.valid() && ::fcntl(connection.input.get(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoStatus("attach: make the input non-blocking");
  }
  if (::fcntl(connection.socket.get(), F_SETFL, O_NONBLOCK) != 0) {
    return ErrnoStatus("attach: make the socket non-blocking");
  }
  return connection;
}

absl::Status CloseAttachedStdin(int socket) {
  const char request = kAttachCloseStdin;
  if (::send(socket, &request, 1, MSG_NOSIGNAL) != 1) return ErrnoStatus("attach: close stdin");
  return absl::OkStatus();
}

}  // namespace quilt
