// quiltd's side of a container's exec server (quiltd/monitor/exec_server.h): starting it and
// handing it one exec.
#pragma once

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "quiltd/runtime/exec_launcher.h"

namespace quilt {

// An exec request sent to a server that has not answered yet.
struct SentExecRequest {
  std::string bundle_dir;
  UniqueFd connection;
  ExecProcess process;  // quiltd's ends, for once the server has taken the request
};

// The first half of RequestExec: connects and sends, without waiting for any process (fit
// for a gRPC thread). UNAVAILABLE when no server listens.
absl::StatusOr<SentExecRequest> SendExecRequest(const std::string& bundle_dir,
                                                const std::string& config_json, const ExecIo& io);
// The second half: waits for the server's answer; fails as RequestExec does.
absl::StatusOr<ExecProcess> AwaitExecAccepted(SentExecRequest sent);

// Hands one exec to the exec server listening in `bundle_dir` and returns it running, with
// pid 0 (nothing for quiltd to reap). `config_json` is the exec's config (as for the helper).
// UNAVAILABLE when no server listens there or it let the request go before taking it:
// nothing ran, so the caller may start a server or use the helper. DEADLINE_EXCEEDED when the
// server does not answer within 5 s (stopped): the request is withdrawn (a fork of the
// server that takes it late finds the connection and the lifeline closed, and runs nothing
// or kills what it started). FAILED_PRECONDITION or INTERNAL when the server reports an
// error.
absl::StatusOr<ExecProcess> RequestExec(const std::string& bundle_dir,
                                        const std::string& config_json, const ExecIo& io);

// Runs `quilt-monitor exec-server <init_pid>` with the container's own config.json text and
// waits for it. OK once the server listens; FAILED_PRECONDITION when the container's init is
// gone, INTERNAL for any other failure (with the starter's message).
absl::Status StartExecServer(const std::string& monitor_path, const std::string& config_json,
                             int init_pidfd, pid_t init_pid);

}  // namespace quilt
