// Parent side of a container: the quilt-monitor process (see monitor_protocol.h for its
// contract with quiltd).
#pragma once

#include <string>

namespace quilt {

// Runs the container described by <bundle_dir>/config.json to completion: clones the init,
// writes the log, reports the start on fd 3 (when open), writes state.json and exit.json.
// Returns the process exit code: 0 once exit.json is written, 1 when the monitor could not
// get that far.
int RunMonitor(const std::string& bundle_dir);

}  // namespace quilt
