// Answers Wait once the container is not running, or at once when the client goes away: a
// cancelled Wait must not stay open (grpc::Server::Shutdown waits for every call, so one
// abandoned Wait on a container that never ends would keep quiltd from stopping).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

class WaitReactor final : public grpc::ServerUnaryReactor {
 public:
  // Registers with the runtime; `response` belongs to the call and outlives the reactor.
  WaitReactor(Runtime* runtime, const std::string& ref, v1::WaitResponse* response);

  void OnCancel() override;
  void OnDone() override { delete this; }

 private:
  // Shared with the runtime's callback, which may run after the reactor is gone (the
  // runtime keeps it until the container ends).
  struct Outcome {
    absl::Mutex mu;
    bool finished ABSL_GUARDED_BY(mu) = false;
  };

  // True for the first caller only: that one finishes the call.
  static bool Claim(Outcome& outcome);

  std::shared_ptr<Outcome> outcome_ = std::make_shared<Outcome>();
};

}  // namespace quilt
