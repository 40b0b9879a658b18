#include "quiltd/monitor/monitor_protocol.h"

#include "absl/status/status.h"
#include "quiltd/monitor/monitor_codec.h"

namespace quilt {

absl::StatusOr<MonitorState> ParseMonitorState(const std::string& json_text) {
  MonitorState state;
  std::string error;
  if (!monitor_codec::DecodeMonitorState(json_text, &state, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return state;
}

absl::StatusOr<MonitorExit> ParseMonitorExit(const std::string& json_text) {
  MonitorExit exit;
  std::string error;
  if (!monitor_codec::DecodeMonitorExit(json_text, &exit, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return exit;
}

}  // namespace quilt
