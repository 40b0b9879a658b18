// Attaching this terminal (or our stdin, stdout and stderr) to a running interactive
// container's workload, for `run -i/-t`.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/status/status.h"
#include "quilt-cli/client.h"

namespace quilt::cli {

// Copies the workload's output to our stdout/stderr and, with `stdin_open`, our stdin to it
// until it ends (the stream closes), on `context` (cancel it to detach). With `tty`, our
// terminal is in raw mode meanwhile and its size follows ours. Returns the stream's status;
// the exit code is the caller's to Wait for. Call BlockWindowChanges before the client's
// channel exists.
absl::Status AttachSession(Client& client, grpc::ClientContext* context, const std::string& id,
                           bool tty, bool stdin_open);

}  // namespace quilt::cli
