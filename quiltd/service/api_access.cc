#include "quiltd/service/api_access.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "quiltd/service/peer_credentials.h"

namespace quilt {
namespace {

using grpc::experimental::InterceptionHookPoints;

class PeerCheckInterceptor final : public grpc::experimental::Interceptor {
 public:
  PeerCheckInterceptor(grpc::experimental::ServerRpcInfo* info, std::optional<gid_t> api_group)
      : info_(info), api_group_(api_group) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      Check();
    }
    methods->Proceed();
  }

 private:
  // Connections reach this server only after their peer passed MayUseApi, so a refusal here
  // means something went wrong (a peer we cannot identify): cancel rather than trust it.
  void Check() {
    const absl::string_view method = info_->method();
    if (IsReadOnlyMethod(method)) return;
    absl::StatusOr<PeerCredentials> peer = PeerCredentialsOfCall(info_->server_context()->peer());
    if (!peer.ok() || !MayUseApi(*peer, api_group_)) {
      QUILT_LOG(WARNING) << "api: refused " << method << " from "
                         << (peer.ok() ? DescribePeer(*peer) : peer.status().ToString());
      info_->server_context()->TryCancel();
      return;
    }
    QUILT_LOG(INFO) << "api: " << method << " from " << DescribePeer(*peer);
  }

  grpc::experimental::ServerRpcInfo* info_;
  const std::optional<gid_t> api_group_;
};

class RefusingReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit RefusingReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

bool IsReadOnlyMethod(absl::string_view method) {
  static const auto* const kReadOnly = new absl::flat_hash_set<absl::string_view>{
      "/quilt.v1.Containers/Get",
      "/quilt.v1.Containers/List",
      "/quilt.v1.Containers/Logs",
      "/quilt.v1.Containers/Wait",
      "/quilt.v1.Containers/Stats",
      "/quilt.v1.Containers/Top",
      "/quilt.v1.Images/ListImages",
      "/quilt.v1.System/Version",
      "/grpc.health.v1.Health/Check",
      "/grpc.health.v1.Health/Watch",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  };
  return kReadOnly->contains(method);
}

grpc::experimental::Interceptor* PeerCheckInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new PeerCheckInterceptor(info, api_group_);
}

grpc::ServerGenericBidiReactor* RefusingService::CreateReactor(
    grpc::GenericCallbackServerContext* context) {
  absl::StatusOr<PeerCredentials> peer = PeerCredentialsOfCall(context->peer());
  const std::string who =
      peer.ok() ? absl::StrCat("uid ", peer->uid, " (pid ", peer->pid, ")") : "an unknown peer";
  return new RefusingReactor(
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                   absl::StrCat("quiltd: ", who, " is neither root nor in the API group")));
}

}  // namespace quilt
