// quiltd's side of a monitor's attach socket (quiltd/monitor/attach_server.h): connecting,
// and reading the workload's output from it.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace quilt {

// A connection to one interactive workload.
struct AttachConnection {
  UniqueFd socket;  // output datagrams from the monitor (non-blocking)
  UniqueFd input;   // the terminal master or the stdin pipe (non-blocking); may be invalid
  bool tty = false;
  bool stdin_open = false;
  // The monitor writes it before closing its connections at the workload's end: EOF without
  // it means the monitor dropped this client for reading too slowly.
  std::string exit_path;
};

// Connects to `socket_path` (through a directory fd, so its length is not limited by a
// socket address) and reads the monitor's greeting. UNAVAILABLE when nobody listens any
// more (the workload just ended).
absl::StatusOr<AttachConnection> ConnectAttach(const std::string& socket_path);

// Tells the monitor to close the workload's stdin pipe.
absl::Status CloseAttachedStdin(int socket);

}  // namespace quilt
