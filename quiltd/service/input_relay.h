// Client input of an interactive stream (Exec, Attach), carried from gRPC's read reactions to
// the thread that relays the process's I/O. Reads are flow-controlled: the next message is
// read only once the stdin bytes before it were written, so a process that does not read its
// stdin holds the client back instead of growing quiltd's memory.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt {

class InputRelay {
 public:
  // `wake_fd`: an eventfd the relay thread polls; written whenever input arrives.
  // `start_read`: starts the stream's next read (whose completion calls Add or AddEnd).
  InputRelay(int wake_fd, std::function<void()> start_read);

  // Relay thread, before the first Flush. Stdin goes to `terminal` (non-blocking, not owned)
  // when it is valid, else to `stdin_pipe` (non-blocking write end); `stdin_open` false
  // refuses stdin bytes. Resizes apply to `terminal`. `on_close` runs (on the relay thread)
  // once the client closed stdin and every byte before was written.
  void Connect(bool stdin_open, UniqueFd stdin_pipe, int terminal, std::function<void()> on_close);

  // gRPC thread, one per completed read: queues `input` and wakes the relay thread.
  void Add(const v1::TerminalInput& input);
  // gRPC thread, when a read fails: the client half-closed (or went away).
  void AddEnd();
  // gRPC thread: a message the stream's protocol does not allow; Flush returns `error`.
  void Refuse(absl::Status error);

  // Relay thread: the fd to poll for POLLOUT while bytes wait, else -1.
  int BlockedFd();
  // Relay thread: applies a resize, writes what the target takes, closes stdin when asked,
  // and starts the next read once nothing waits. Returns the first protocol error
  // (INVALID_ARGUMENT: stdin bytes without stdin_open, a size out of range).
  absl::Status Flush();

 private:
  void Wake();
  int TargetFd() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int wake_fd_;
  const std::function<void()> start_read_;
  std::function<void()> on_close_;

  absl::Mutex mu_;
  bool stdin_open_ ABSL_GUARDED_BY(mu_) = false;
  UniqueFd stdin_pipe_ ABSL_GUARDED_BY(mu_);
  int terminal_ ABSL_GUARDED_BY(mu_) = -1;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::TerminalSize> resize_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool client_done_ ABSL_GUARDED_BY(mu_) = false;  // no read may start any more
  bool close_asked_ ABSL_GUARDED_BY(mu_) = false;  // close once pending_ is written
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quilt
