// The wire protocol of a container's exec server (quiltd/monitor/exec_server.h), shared by
// quiltd (quiltd/runtime/exec_server_client.h) and the static quilt-monitor binary: plain
// structs, no allocation.
//
// The server listens on <bundle>/exec.sock (SOCK_SEQPACKET, mode 0600, in the 0700
// containers directory; the container cannot name the path). One connection is one exec:
//   client -> server: one ExecServerRequest datagram with the exec's fds attached
//     (SCM_RIGHTS), in this order: the exec's config (a memfd holding config.json text with
//     the exec's argv/env/working_dir/identity), the command's stdout and stderr, the status
//     pipe, the lifeline; then with stdin_open and no tty the read end of the command's
//     stdin pipe; with tty the socket to send the terminal's master over. These are the
//     `quilt-monitor exec` helper's fds 0, 1, 2, 4, 5, 6 and 7 (exec_helper.h), and they mean
//     the same: the status line and the lifeline work exactly as with the helper.
//   server -> client: one reply datagram: kExecServerAccepted once the request and its fds
//     were taken (from then on the exec is the status pipe's business), kExecServerRefused
//     for a peer inside the container, or "error <errno> <message>" text. A connection that
//     ends without a reply took nothing: nothing ran.
#pragma once

#include <cstdint>

namespace quilt {

inline constexpr uint32_t kExecServerMagic = 0x71657831;  // "qex1"
inline constexpr char kExecServerSocketName[] = "exec.sock";
inline constexpr char kExecServerAccepted = 'k';
inline constexpr char kExecServerRefused = 'r';

struct ExecServerRequest {
  uint32_t magic = kExecServerMagic;
  int32_t timeout_seconds = 0;  // 0: none
  uint8_t stdin_open = 0;
  uint8_t tty = 0;
  uint16_t rows = 0;
  uint16_t columns = 0;
  uint16_t reserved = 0;
};

// The fds a request carries: 5, plus one for stdin_open without tty or for tty.
inline int ExecServerRequestFdCount(const ExecServerRequest& request) {
  return 5 + ((request.stdin_open != 0 && request.tty == 0) || request.tty != 0 ? 1 : 0);
}

}  // namespace quilt
