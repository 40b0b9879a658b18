// The container's pid 1: runs the setup commands, starts the workload, forwards signals to
// it and reports its exit status to the monitor.
#pragma once

#include "quiltd/monitor/monitor_config.h"

namespace quilt {

// Write ends of the output pipes and the init's end of the control channel. Every other fd
// of the process must already be closed.
struct InitFds {
  int control = -1;
  int setup_stdout = -1;
  int setup_stderr = -1;
  int stdout_pipe = -1;
  int stderr_pipe = -1;
};

// Runs as pid 1 inside the sandbox (after pivot_root). Sends kFailed (stage kSetup or
// kExec), or kRunning then kWorkloadExited, over `fds.control`, then exits; never returns.
[[noreturn]] void RunContainerInit(const MonitorConfig& config, const InitFds& fds);

// Closes every fd of the process except 0, 1, 2 and `keep` (which need not be sorted).
void CloseFdsExcept(const int* keep, int count);

}  // namespace quilt
