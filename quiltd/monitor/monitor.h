// Parent side of a container: the quilt-monitor process (see monitor_protocol.h for its
// contract with quiltd).
#pragma once

#include <string>
#include <vector>

namespace quilt {

// Runs the container described by <bundle_dir>/config.json to completion: clones the init,
// writes the log, reports the start on fd 3 (when open), writes state.json and exit.json.
// Returns the process exit code: 0 once exit.json is written, 1 when the monitor could not
// get that far.
int RunMonitor(const std::string& bundle_dir);

// The memory holding the process's command line (argv[0] to the end of the last argument).
struct ArgvArea {
  char* begin = nullptr;
  size_t size = 0;
};

// Runs a spare monitor (see monitor_protocol.h): prepares an init in the v1 cgroups of
// `procs_files` ahead of time, then runs the container it is claimed for, as RunMonitor
// would. Once claimed, the monitor and its init rewrite `argv` to read as a cold monitor's
// (`quilt-monitor <bundle_dir>`), which recovery looks for. Returns 0 when dismissed unclaimed.
int RunSpareMonitor(const std::string& spare_dir, std::vector<std::string> procs_files,
                    ArgvArea argv);

}  // namespace quilt
