// Copying a Logs stream to the terminal, shared by `logs` and `run`.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "quilt-cli/client.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// How entries are written.
struct LogOutputOptions {
  // Put an RFC 3339 (nanosecond) timestamp and a space before each line.
  bool timestamps = false;
  // Write each entry as one line of JSON on stdout instead of raw bytes.
  bool json = false;
};

// Reads the Logs stream for `request` to its end, writing each entry's bytes, exactly, to
// stdout (fd 1) or stderr (fd 2) by the stream it came from. Fails with the call's status (as
// Client::FailureStatus words it) or a write error. `context` may be cancelled from another
// thread; the result is then CANCELLED.
absl::Status CopyLogs(Client& client, grpc::ClientContext* context,
                      const quilt::v1::LogsRequest& request, const LogOutputOptions& options);

}  // namespace quilt::cli
