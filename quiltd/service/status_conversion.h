// The one place where absl::Status becomes grpc::Status.
#pragma once

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace quilt {

// Same code (the numbering is shared), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace quilt
