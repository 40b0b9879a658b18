// `quilt-monitor exec`: runs one command inside a running container for quiltd's Exec.
//
// quiltd (multi-threaded, so it cannot setns itself) spawns the helper with:
//   fd 0  the container's config.json, with argv/env/working_dir/identity of the exec
//   fd 1, 2  the command's stdout and stderr (pipes quiltd streams from)
//   fd 3  a pidfd of the container's init
//   fd 4  the status pipe: one line, "exit <code> <signal> <timed_out 0|1>" once the command
//         ended, or "error <errno> <message>" when it could not be started
//   fd 5  the lifeline: when quiltd closes the other end, the command is killed
//   fd 6  with stdin and no tty: the read end of the command's stdin pipe
//   fd 7  with a tty: a Unix socket the helper sends the terminal's master over, once
//         allocated and before the command starts; quiltd relays through it
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/unique_fd.h"
#include "quiltd/monitor/container_init.h"
#include "quiltd/monitor/exec_hardening.h"
#include "quiltd/monitor/monitor_config.h"

namespace quilt {

inline constexpr int kExecInitPidfd = 3;
inline constexpr int kExecStatusFd = 4;
inline constexpr int kExecLifelineFd = 5;
inline constexpr int kExecStdinFd = 6;
inline constexpr int kExecTerminalFd = 7;

// The helper's command line: `quilt-monitor exec <init_pid> <timeout_seconds> <stdin 0|1>
// <tty 0|1> <rows> <columns>`.
struct ExecHelperOptions {
  pid_t init_pid = 0;
  int timeout_seconds = 0;
  bool stdin_open = false;
  bool tty = false;
  uint16_t rows = 0;
  uint16_t columns = 0;
};

// Joins the init's cgroup and namespaces and root, allocates the terminal (with tty), forks
// the command (so it is inside the pid namespace), applies the workload's hardening, waits
// for it (killing its process group after `timeout_seconds` when > 0, or when the lifeline
// closes) and writes the status line. Returns the helper's exit code: 0 once a status line
// was written.
int RunExecHelper(const ExecHelperOptions& options);

// The helper's steps, shared with the exec server (exec_server.h). Each reports a failure as
// an "error" line on kExecStatusFd.

// Reads and decodes the config.json text on `fd`. False after reporting.
bool ReadExecConfig(int fd, MonitorConfig* config);
// ExecHardening::Prepare for `config`. False after reporting.
bool PrepareExecHardening(const MonitorConfig& config, ExecHardening* hardening);
// Joins the cgroup of `config`, then the namespaces of the init behind kExecInitPidfd, and
// chroots to its root. Not dumpable first (the caller's business). False after reporting.
bool EnterContainer(const MonitorConfig& config, pid_t init_pid);
// From inside the container: allocates the terminal (with tty), forks the command with the
// helper's fds 1, 2 (and 6), waits for it as RunExecHelper does and writes the status line.
// `null_fd` is the host's /dev/null. Returns 0 once a status line was written.
int RunExecCommand(const MonitorConfig& config, const ExecHardening& hardening,
                   const ExecHelperOptions& options, int null_fd);

// The two halves of RunExecCommand once the terminal exists, for the exec server, which runs
// them in two processes made ahead of time (exec_server.h).

// Where the command's stdio comes from: /dev/null or the stdin pipe for fd 0 and the
// helper's pipes for 1 and 2, or the terminal's slave for all three.
struct CommandStdio {
  UniqueFd stdin_fd;
  UniqueFd terminal_slave;  // invalid: no tty
};

// With options.tty: allocates the terminal in the container's devpts and sends its master to
// quiltd over kExecTerminalFd. Returns 0, or 1 after reporting.
int OpenCommandTerminal(const MonitorConfig& config, const ExecHelperOptions& options,
                        UniqueFd* slave);

// In the process that becomes the command: its own process group (so a timeout kills
// everything it started), or with a tty its own session with the terminal as controlling
// terminal; no fd but stdio and `exec_status_fd` (CLOEXEC; an ExecError when the exec
// fails); then ExecWorkload.
[[noreturn]] void BecomeCommand(const MonitorConfig& config, const ExecHardening& hardening,
                                const CommandLine& command, const CommandStdio& stdio,
                                int exec_status_fd);

// In its parent: waits for `child`, killing its process group after `timeout_seconds` (> 0)
// or when the lifeline (kExecLifelineFd) closes, writes an exec failure read from
// `exec_status_read` to fd 2, then the status line to kExecStatusFd, and closes that.
// Returns 0.
int ReportCommand(pid_t child, int exec_status_read, int timeout_seconds);

}  // namespace quilt
