#include "quiltd/monitor/monitor_config.h"

#include "absl/status/status.h"
#include "quiltd/monitor/monitor_codec.h"

namespace quilt {

absl::StatusOr<MonitorConfig> ParseMonitorConfig(const std::string& json_text) {
  MonitorConfig config;
  std::string error;
  if (!monitor_codec::DecodeMonitorConfig(json_text, &config, &error)) {
    return absl::InvalidArgumentError(error);
  }
  return config;
}

}  // namespace quilt
