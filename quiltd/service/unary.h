// Helpers that finish unary callback RPCs.
#pragma once

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/status/status.h"
#include "common/thread_pool.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {

// Finishes at once with `status` (for calls that only read memory or fail validation).
inline grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                           const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Runs `work` (returning absl::Status) on the pool and finishes with its result, so that
// blocking work never runs on a gRPC thread. Request and response stay valid until Finish.
template <typename Work>
grpc::ServerUnaryReactor* FinishOnPool(grpc::CallbackServerContext* context, ThreadPool* pool,
                                       Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  pool->Schedule(
      [reactor, work = std::move(work)]() mutable { reactor->Finish(ToGrpcStatus(work())); });
  return reactor;
}

}  // namespace quilt
