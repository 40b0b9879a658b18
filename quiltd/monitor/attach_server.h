// The monitor's side of Attach, for a workload created with tty or stdin_open: a
// SOCK_SEQPACKET socket in the bundle (attach.sock) that quiltd connects to, any number of
// times, across its own restarts (the monitor owns the terminal and the stdin pipe).
//
// Protocol, one datagram per message:
//   monitor -> client, first: one tag byte, with the input fd attached (SCM_RIGHTS) unless
//     the tag is kAttachNoInput (or kAttachRefused: too many clients, the connection then
//     closes). quiltd writes stdin bytes and resizes straight to that fd.
//   monitor -> client, then: one stream byte (1 stdout, 2 stderr) and the output bytes. The
//     first client also gets what the workload wrote before it connected (up to 64 KiB), so
//     `run -it` misses no prompt.
//   client -> monitor: kAttachCloseStdin: close the workload's stdin pipe.
// A client that cannot keep up (its socket buffer is full) is disconnected rather than let
// it stall the workload: the log, not the attach, is the record that loses nothing.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/unique_fd.h"

namespace quilt {

inline constexpr char kAttachTty = 't';        // the terminal master, stdin refused
inline constexpr char kAttachTtyStdin = 'T';   // the terminal master, stdin allowed
inline constexpr char kAttachStdinPipe = 'p';  // the write end of the stdin pipe
inline constexpr char kAttachNoInput = 'n';
inline constexpr char kAttachRefused = 'x';  // too many clients; the connection closes
inline constexpr size_t kAttachMaxClients = 16;
inline constexpr char kAttachCloseStdin = 'c';
inline constexpr uint8_t kAttachStdout = 1;
inline constexpr uint8_t kAttachStderr = 2;

class AttachServer {
 public:
  // Binds and listens on `dir`/`name`; false with errno set. Binds by the relative name
  // from within `dir` (the monitor's working directory from then on): a bundle path can be
  // longer than a socket address holds.
  bool Listen(const std::string& dir, const std::string& name);
  // What each client receives first: `tag` and a copy of `fd` (not owned; -1 for none).
  void SetInput(char tag, int fd);
  // Appends one pollfd per socket to watch (the listener and every client).
  void AddPollFds(std::vector<pollfd>* fds) const;
  // Handles the poll result for the entries AddPollFds added, starting at `first`.
  // `close_stdin` is set when a client asked to close the workload's stdin.
  void Handle(const std::vector<pollfd>& fds, size_t first, bool* close_stdin);
  // Whether output must go through Broadcast (the socket is open: clients, or a backlog
  // kept for the first one).
  bool listening() const { return listener_.valid(); }
  // Sends output to every client (or keeps it for the first one).
  void Broadcast(uint8_t stream, const uint8_t* data, size_t size);
  // Disconnects every client and removes the socket.
  void Close();

 private:
  void Accept();
  bool Send(int fd, uint8_t stream, const uint8_t* data, size_t size);

  std::string path_;
  UniqueFd listener_;
  std::vector<UniqueFd> clients_;
  char tag_ = kAttachNoInput;
  int input_fd_ = -1;
  bool attached_once_ = false;
  std::string backlog_;  // stream byte + length (4 bytes) + data, repeated
};

}  // namespace quilt
