#include "quilt-cli/terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

namespace quilt::cli {

void BlockWindowChanges() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

RawMode::RawMode() {
  termios current;
  if (!isatty(0) || tcgetattr(0, &current) != 0) return;
  saved_ = current;
  cfmakeraw(&current);
  tcsetattr(0, TCSADRAIN, &current);
}

RawMode::~RawMode() {
  if (saved_.has_value()) tcsetattr(0, TCSADRAIN, &*saved_);
}

std::optional<v1::TerminalSize> LocalTerminalSize() {
  for (int fd : {0, 1}) {
    winsize size{};
    if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_row != 0 && size.ws_col != 0) {
      v1::TerminalSize result;
      result.set_rows(size.ws_row);
      result.set_columns(size.ws_col);
      return result;
    }
  }
  return std::nullopt;
}

InputPump::InputPump(bool stdin_open, bool tty, Send send, std::function<void()> writes_done)
    : send_(std::move(send)), writes_done_(std::move(writes_done)) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) == 0) {
    stop_read_.Reset(fds[0]);
    stop_write_.Reset(fds[1]);
  }
  if (tty) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGWINCH);
    window_fd_.Reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  }
  thread_ = std::thread([this, stdin_open, tty] { Loop(stdin_open, tty); });
}

InputPump::~InputPump() {
  stop_write_.Reset();  // EOF on stop_read_ ends the loop
  thread_.join();
}

void InputPump::Loop(bool stdin_open, bool tty) {
  bool reading = stdin_open;
  // With a tty the stream stays open for resizes (no Write may follow a half-close), and the
  // end of input is a keystroke anyway.
  if (!reading && !tty) writes_done_();
  for (;;) {
    pollfd fds[3] = {{stop_read_.get(), POLLIN, 0},
                     {reading ? 0 : -1, POLLIN, 0},
                     {tty ? window_fd_.get() : -1, POLLIN, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents != 0) return;
    v1::TerminalInput input;
    if (fds[2].revents != 0) {
      signalfd_siginfo info;
      while (read(window_fd_.get(), &info, sizeof(info)) > 0) {
      }
      std::optional<v1::TerminalSize> size = LocalTerminalSize();
      if (size.has_value()) {
        *input.mutable_resize() = *size;
        if (!send_(input)) return;
      }
    }
    if (fds[1].revents != 0) {
      std::string data(16 * 1024, '\0');
      ssize_t n = read(0, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        reading = false;
        if (tty) continue;
        writes_done_();
        return;
      }
      data.resize(static_cast<size_t>(n));
      input.set_stdin_data(std::move(data));
      if (!send_(input)) return;
    }
  }
}

}  // namespace quilt::cli
