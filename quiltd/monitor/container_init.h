// The container's pid 1: runs the setup commands, starts the workload, forwards signals to
// it and reports its exit status to the monitor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quiltd/monitor/exec_hardening.h"
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
  int stdin_pipe = -1;  // config.stdin_open without tty: the read end of the workload's stdin
};

// Runs as pid 1 inside the sandbox (after pivot_root). Sends kFailed (stage kSetup or
// kExec), or kRunning then kWorkloadExited, over `fds.control`, then exits; never returns.
[[noreturn]] void RunContainerInit(const MonitorConfig& config, const InitFds& fds);

// What a workload child writes to its exec-status pipe when it cannot exec.
struct ExecError {
  int32_t error = 0;
  int32_t exit_code = 0;
  char detail[200] = {};
};

// In a forked child before its exec: writes an ExecError to `status_fd` and exits with
// `exit_code`.
[[noreturn]] void FailExec(int status_fd, int error, int exit_code, const std::string& detail);

// The argv/envp arrays of config.argv and config.env, built before any fork so that
// children only call exec.
struct CommandLine {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};
CommandLine MakeCommandLine(const MonitorConfig& config);

// In a forked child that is already in the container (namespaces, root, cgroup): applies
// the hardening around the identity change (config.uid/gid/additional_gids), enters
// config.working_dir and execs `command` searching PATH from config.env. On failure writes
// an ExecError to `status_fd` (which must be CLOEXEC) and exits 127 (not found) or 126.
[[noreturn]] void ExecWorkload(const MonitorConfig& config, const ExecHardening& hardening,
                               const CommandLine& command, int status_fd);

// Closes every fd of the process except 0, 1, 2 and `keep` (which need not be sorted).
void CloseFdsExcept(const int* keep, int count);

}  // namespace quilt
