// The local side of an interactive session (exec -i/-t, run -i/-t): raw mode on our terminal,
// its size, and a thread that turns our stdin and window changes into TerminalInput messages.
#pragma once

#include <termios.h>

#include <functional>
#include <optional>
#include <thread>

#include "absl/status/status.h"
#include "common/unique_fd.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// Blocks SIGWINCH in the calling thread and every thread it starts later (gRPC's included),
// so that InputPump alone receives it through a signalfd. Call it before any thread starts
// (InterruptWatcher's, gRPC's).
void BlockWindowChanges();

// While alive, our stdin terminal is in raw mode: keys, Ctrl-C included, go to the process in
// the container as bytes, and its terminal does the echo and line editing. Restored on
// destruction; quilt-cli turns SIGINT, SIGTERM, SIGHUP and SIGQUIT into a cancelled call
// (InterruptWatcher), so every way out of a session passes through the destructor.
class RawMode {
 public:
  // Does nothing when fd 0 is not a terminal.
  RawMode();
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  std::optional<termios> saved_;
};

// The size of the terminal on our stdin (or stdout), if there is one.
std::optional<v1::TerminalSize> LocalTerminalSize();

// Copies our stdin (when `stdin_open`) and, with `tty`, every window size change into the
// stream through `send`, on its own thread. Without a tty, calls `writes_done` (the
// half-close that ends the process's stdin) at EOF of stdin, or at once without stdin.
// Stops when `send` fails or on destruction.
class InputPump {
 public:
  using Send = std::function<bool(const v1::TerminalInput&)>;
  InputPump(bool stdin_open, bool tty, Send send, std::function<void()> writes_done);
  ~InputPump();
  InputPump(const InputPump&) = delete;
  InputPump& operator=(const InputPump&) = delete;

 private:
  void Loop(bool stdin_open, bool tty);

  Send send_;
  std::function<void()> writes_done_;
  UniqueFd stop_read_;
  UniqueFd stop_write_;
  UniqueFd window_fd_;
  std::thread thread_;
};

}  // namespace quilt::cli
