// Spawns `quilt-monitor exec` (quiltd/monitor/exec_helper.h) for one Exec and reads how it
// ended.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace quilt {

// How an exec'd command ended.
struct ExecResult {
  int exit_code = 0;  // its exit status, or 128 + signal
  int signal = 0;     // the signal that killed it, or 0
  bool timed_out = false;
};

// How the exec'd command is connected, besides its output.
struct ExecIo {
  int timeout_seconds = 0;  // 0: none
  bool stdin_open = false;  // a stdin pipe (or, with tty, the terminal) instead of /dev/null
  bool tty = false;         // a pseudo-terminal in the container
  uint16_t rows = 0;        // its initial size; 0: the kernel's default
  uint16_t columns = 0;
};

// A running exec: a helper, quiltd's unreaped child, or a request the container's exec server
// took (quiltd/runtime/exec_server_client.h).
struct ExecProcess {
  pid_t pid = 0;       // the helper; 0 when the exec server runs it
  UniqueFd stdout_fd;  // read ends of the command's output, non-blocking
  UniqueFd stderr_fd;
  UniqueFd status_fd;  // the helper's status line, then EOF once it has exited
  UniqueFd lifeline;   // closing it makes the helper kill the command
  UniqueFd stdin_fd;   // stdin_open without tty: write end of its stdin, non-blocking
  // With tty: the helper sends the terminal's master over this socket (ReceiveExecTerminal).
  UniqueFd terminal_socket;
};

// A memfd holding `data`, rewound: a config for the helper or the exec server (a memfd, not
// a pipe: writing it can neither block nor raise SIGPIPE when the reader died early).
absl::StatusOr<UniqueFd> ExecConfigFile(absl::string_view data);

// The fds of one exec: quiltd's ends in `ours`, the other ends for the process that runs it
// (the helper's fds 0, 1, 2, 4, 5, 6 and 7 in exec_helper.h).
struct ExecChannels {
  ExecProcess ours;
  UniqueFd config;  // a memfd holding `config_json`
  UniqueFd stdout_write;
  UniqueFd stderr_write;
  UniqueFd status_write;
  UniqueFd lifeline_read;
  UniqueFd stdin_read;       // io.stdin_open without tty
  UniqueFd terminal_socket;  // io.tty
};
absl::StatusOr<ExecChannels> MakeExecChannels(const std::string& config_json, const ExecIo& io);

// posix_spawns `monitor_path` with `args` (argv[0] included), each (fd, target) pair of `fds`
// duplicated to its target number and no other fd, default signal handlers and an empty mask.
absl::StatusOr<pid_t> SpawnMonitorMode(const std::string& monitor_path,
                                       std::vector<std::string> args,
                                       const std::vector<std::pair<int, int>>& fds);

// Spawns `monitor_path exec ...` with the fds exec_helper.h lists and `config_json` as its
// stdin. `init_pidfd` is duplicated into the helper.
absl::StatusOr<ExecProcess> SpawnExecHelper(const std::string& monitor_path,
                                            const std::string& config_json, int init_pidfd,
                                            pid_t init_pid, const ExecIo& io);

// Waits for the terminal's master (non-blocking) from a helper started with tty. NOT_FOUND
// when the helper ended without sending one (its status line then says why).
absl::StatusOr<UniqueFd> ReceiveExecTerminal(int terminal_socket);

// Parses everything the helper wrote on its status pipe. "error <errno> <message>" becomes
// FAILED_PRECONDITION when the container is gone (ESRCH), else INTERNAL with the message;
// anything else that is not an exit line is INTERNAL.
absl::StatusOr<ExecResult> ParseExecStatus(absl::string_view text);

// Waits for the helper to exit (it is about to, once its status pipe is at EOF); nothing
// for pid 0.
void ReapExecHelper(pid_t pid);

}  // namespace quilt
