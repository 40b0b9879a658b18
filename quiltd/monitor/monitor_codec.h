// JSON encoding of the monitor's files without Abseil, so the static quilt-monitor binary
// stays small. The StatusOr wrappers in monitor_config.h / monitor_protocol.h are built on
// these for quiltd.
#pragma once

#include <string>

#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt::monitor_codec {

// Each Decode* fills `out` and returns true, or returns false with `error` set to
// "parse <what>: <reason>" when the text is not JSON or a required field is missing or has
// the wrong type.
bool DecodeMonitorConfig(const std::string& json_text, MonitorConfig* out, std::string* error);
bool DecodeMonitorState(const std::string& json_text, MonitorState* out, std::string* error);
bool DecodeMonitorExit(const std::string& json_text, MonitorExit* out, std::string* error);

}  // namespace quilt::monitor_codec
