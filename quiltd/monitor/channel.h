// Messages between the monitor and its container init, over a SOCK_SEQPACKET socketpair
// (one message per datagram, so no framing). Fixed-size and allocation-free: the init
// side sends them from forked children and after pivot_root.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <cstdio>

#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

struct ChannelMessage {
  enum Type : int32_t {
    kParentReady = 1,     // monitor -> init: in every v1 cgroup, id maps written; go on
    kFailed = 2,          // init -> monitor: `report` says which step failed
    kRunning = 3,         // init -> monitor: the workload was exec'd; `value` is its pid
    kWorkloadExited = 4,  // init -> monitor: `value` is the workload's raw wait status
    kTerminal = 5,        // init -> monitor: the workload's terminal master is attached
    kClaimed = 6,         // monitor -> a spare's init: its container's config.json is attached
  };
  int32_t type = 0;
  int32_t value = 0;
  StartReport report;
};

// Sends one message; returns false with errno set on failure. MSG_NOSIGNAL: a dead peer
// must not kill the sender with SIGPIPE.
inline bool SendChannelMessage(int fd, const ChannelMessage& message) {
  return send(fd, &message, sizeof(message), MSG_NOSIGNAL) == sizeof(message);
}

// Fills a failure report for `stage`; `detail` is truncated to fit.
inline void SetStartFailure(StartReport* report, StartStage stage, int error, const char* detail) {
  report->kind = StartReport::kFailed;
  report->stage = static_cast<int32_t>(stage);
  report->error = error;
  snprintf(report->detail, sizeof(report->detail), "%s", detail);
}

}  // namespace quilt
