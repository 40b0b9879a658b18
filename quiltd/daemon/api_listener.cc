#include "quiltd/daemon/api_listener.h"

#include <grpcpp/server_posix.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "quiltd/service/peer_credentials.h"

namespace quilt {

absl::StatusOr<std::unique_ptr<ApiListener>> ApiListener::Listen(const std::string& path,
                                                                 std::optional<gid_t> group) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is too long"));
  }
  memcpy(address.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus("create API socket");
  // bind creates the file with the umask applied: never wider than 0660, not even for the
  // instant before the chown and chmod below.
  const mode_t old_umask = umask(0117);
  const int bound = bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int bind_errno = errno;
  umask(old_umask);
  if (bound != 0) return ErrnoStatus(bind_errno, absl::StrCat("bind ", path));
  if (chown(path.c_str(), 0, group.value_or(0)) != 0)
    return ErrnoStatus(absl::StrCat("chown ", path));
  if (chmod(path.c_str(), 0660) != 0) return ErrnoStatus(absl::StrCat("chmod ", path));
  if (listen(fd.get(), SOMAXCONN) != 0) return ErrnoStatus(absl::StrCat("listen on ", path));
  UniqueFd stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop.valid()) return ErrnoStatus("create eventfd");
  return std::unique_ptr<ApiListener>(new ApiListener(std::move(fd), std::move(stop), group));
}

ApiListener::ApiListener(UniqueFd listen_fd, UniqueFd stop_fd, std::optional<gid_t> group)
    : listen_fd_(std::move(listen_fd)), stop_fd_(std::move(stop_fd)), group_(group) {}

ApiListener::~ApiListener() { Stop(); }

void ApiListener::Start(grpc::Server* api, grpc::Server* refusing) {
  thread_ = std::thread([this, api, refusing] { AcceptLoop(api, refusing); });
}

void ApiListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!write(stop_fd_.get(), &one, sizeof(one));
  thread_.join();
}

void ApiListener::AcceptLoop(grpc::Server* api, grpc::Server* refusing) {
  for (;;) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      QUILT_LOG(ERROR) << "api: poll: " << strerror(errno);
      return;
    }
    if (fds[1].revents != 0) return;
    // Non-blocking, as gRPC's endpoints expect their fds.
    UniqueFd connection(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!connection.valid()) {
      // The peer may have gone between poll and accept; fd exhaustion passes too.
      if (errno != EAGAIN && errno != ECONNABORTED && errno != EINTR) {
        QUILT_LOG(WARNING) << "api: accept: " << strerror(errno);
      }
      continue;
    }
    Hand(std::move(connection), api, refusing);
  }
}

// The socket's mode already keeps out everyone but root and the group; this is defence in
// depth (a process with CAP_DAC_OVERRIDE but another uid passes the mode check).
void ApiListener::Hand(UniqueFd connection, grpc::Server* api, grpc::Server* refusing) {
  absl::StatusOr<PeerCredentials> peer = PeerCredentialsOf(connection.get());
  if (!peer.ok()) {
    QUILT_LOG(WARNING) << "api: " << peer.status();
    return;
  }
  const bool allowed = MayUseApi(*peer, group_);
  if (allowed) {
    QUILT_LOG(DEBUG) << "api: connection from " << DescribePeer(*peer);
  } else {
    QUILT_LOG(WARNING) << "api: refusing connection from " << DescribePeer(*peer)
                       << ": neither root nor in the API group";
  }
  // gRPC owns the fd from here on and closes it with the connection.
  grpc::AddInsecureChannelFromFd(allowed ? api : refusing, connection.Release());
}

}  // namespace quilt
