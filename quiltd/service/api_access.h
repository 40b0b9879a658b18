// Access control of the API socket, beyond its file mode (0660, root and the API group):
// quiltd accepts connections itself (see quiltd/daemon/api_listener.h), reads each peer's
// SO_PEERCRED and hands the connection either to the API server or to a refusing server
// whose every call fails with PERMISSION_DENIED. On the API server, an interceptor checks
// the peer of every mutating call again and logs it.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/support/server_interceptor.h>
#include <sys/types.h>

#include <optional>

#include "absl/strings/string_view.h"

namespace quilt {

// Calls that change nothing (Get, List, Logs, Wait, Stats, Top, ListImages, Version, health,
// reflection). Every other method, including any added later, counts as mutating.
bool IsReadOnlyMethod(absl::string_view method);

// Logs every mutating call with its peer's pid, uid and gid ("api: /quilt.v1.Containers/Create
// from pid=P uid=U gid=G") and cancels one from a peer that may not use the API.
class PeerCheckInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit PeerCheckInterceptorFactory(std::optional<gid_t> api_group) : api_group_(api_group) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const std::optional<gid_t> api_group_;
};

// Fails every call with PERMISSION_DENIED, naming the peer's uid and pid.
class RefusingService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override;
};

}  // namespace quilt
