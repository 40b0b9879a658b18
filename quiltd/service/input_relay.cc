#include "quiltd/service/input_relay.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quiltd/service/request_validation.h"

namespace quilt {

InputRelay::InputRelay(int wake_fd, std::function<void()> start_read)
    : wake_fd_(wake_fd), start_read_(std::move(start_read)) {}

void InputRelay::Connect(bool stdin_open, UniqueFd stdin_pipe, int terminal,
                         std::function<void()> on_close) {
  absl::MutexLock lock(&mu_);
  stdin_open_ = stdin_open;
  stdin_pipe_ = std::move(stdin_pipe);
  terminal_ = terminal;
  on_close_ = std::move(on_close);
}

void InputRelay::Add(const v1::TerminalInput& input) {
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    switch (input.event_case()) {
      case v1::TerminalInput::kStdinData:
        if (!stdin_open_ && error_.ok()) {
          error_ = absl::InvalidArgumentError(
              "input.stdin_data: the process was not started with stdin_open");
        } else if (close_asked_ && terminal_ < 0 && error_.ok()) {
          error_ = absl::InvalidArgumentError("input.stdin_data: stdin was already closed");
        } else {
          pending_ += input.stdin_data();
        }
        break;
      case v1::TerminalInput::kCloseStdin:
        if (input.close_stdin()) close_asked_ = true;
        break;
      case v1::TerminalInput::kResize:
        if (absl::Status valid = ValidateTerminalSize("input.resize", input.resize());
            !valid.ok() && error_.ok()) {
          error_ = valid;
        } else {
          resize_ = input.resize();
        }
        break;
      case v1::TerminalInput::EVENT_NOT_SET:
        if (error_.ok()) error_ = absl::InvalidArgumentError("input: empty message");
        break;
    }
  }
  Wake();
}

void InputRelay::AddEnd() {
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    client_done_ = true;
    close_asked_ = true;
  }
  Wake();
}

void InputRelay::Refuse(absl::Status error) {
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (error_.ok()) error_ = std::move(error);
  }
  Wake();
}

int InputRelay::TargetFd() const { return terminal_ >= 0 ? terminal_ : stdin_pipe_.get(); }

int InputRelay::BlockedFd() {
  absl::MutexLock lock(&mu_);
  return pending_.empty() ? -1 : TargetFd();
}

absl::Status InputRelay::Flush() {
  bool start_read = false;
  bool close_now = false;
  absl::Status error;
  {
    absl::MutexLock lock(&mu_);
    if (resize_.has_value() && terminal_ >= 0) {
      winsize size{};
      size.ws_row = static_cast<uint16_t>(resize_->rows());
      size.ws_col = static_cast<uint16_t>(resize_->columns());
      // The kernel sends SIGWINCH to the terminal's foreground process group.
      (void)::ioctl(terminal_, TIOCSWINSZ, &size);
    }
    resize_.reset();
    while (!pending_.empty()) {
      const ssize_t n = ::write(TargetFd(), pending_.data(), pending_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      // EPIPE or EIO: the process (or the terminal) is gone; its input goes with it.
      if (n <= 0) {
        pending_.clear();
        break;
      }
      pending_.erase(0, static_cast<size_t>(n));
    }
    // With a terminal, the end of stdin is a keystroke (^D), not a close: the terminal is
    // also the process's output.
    if (pending_.empty() && close_asked_ && !closed_ && terminal_ < 0) {
      closed_ = true;
      stdin_pipe_.Reset();
      close_now = true;
    }
    if (pending_.empty() && !reading_ && !client_done_ && error_.ok()) {
      reading_ = true;
      start_read = true;
    }
    error = error_;
  }
  if (close_now && on_close_) on_close_();
  if (start_read) start_read_();
  return error;
}

void InputRelay::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
}

}  // namespace quilt
