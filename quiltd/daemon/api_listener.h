// The API socket, accepted by quiltd itself rather than by gRPC, so that every connection's
// peer credentials (SO_PEERCRED) are known: gRPC C++ does not expose a connection's fd or
// its credentials. Each accepted connection is handed to a gRPC server with
// grpc::AddInsecureChannelFromFd, which names its calls' peer "fd:<n>" (see
// quiltd/service/api_access.h for the per-call checks).
#pragma once

#include <grpcpp/server.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace quilt {

class ApiListener {
 public:
  // Creates and listens on the socket at `path`, which must not exist: mode 0660, owner
  // root, group `group` (root's group when nullopt). The mode is never wider, not even
  // between bind and chmod.
  static absl::StatusOr<std::unique_ptr<ApiListener>> Listen(const std::string& path,
                                                             std::optional<gid_t> group);
  ~ApiListener();

  // Starts accepting on a thread of its own. A connection whose peer may use the API (root
  // or a member of the group) goes to `api`, any other to `refusing`, which answers every
  // call with PERMISSION_DENIED. Both must outlive Stop.
  void Start(grpc::Server* api, grpc::Server* refusing);

  // Stops accepting and joins the thread; connections already handed over stay open.
  void Stop();

 private:
  ApiListener(UniqueFd listen_fd, UniqueFd stop_fd, std::optional<gid_t> group);
  void AcceptLoop(grpc::Server* api, grpc::Server* refusing);
  void Hand(UniqueFd connection, grpc::Server* api, grpc::Server* refusing);

  UniqueFd listen_fd_;
  UniqueFd stop_fd_;  // an eventfd: readable once Stop was called
  const std::optional<gid_t> group_;
  std::thread thread_;
};

}  // namespace quilt
