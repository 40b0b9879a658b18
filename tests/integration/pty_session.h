// A process (quilt-cli) run on a pseudo-terminal, as a person at a terminal would run it:
// type into it, read what it shows, resize it, collect its exit code.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/unique_fd.h"

namespace quilt::testing {

class PtySession {
 public:
  // Starts argv (with extra_env added) on a new terminal of rows x columns.
  PtySession(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
             unsigned short rows, unsigned short columns);
  // Kills the process if it is still running.
  ~PtySession();
  PtySession(const PtySession&) = delete;
  PtySession& operator=(const PtySession&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // True while the terminal is in its normal (cooked) mode: echo and line editing on.
  bool Cooked() const;
  // Types `keys` (raw bytes: "\r" is Enter, "\x03" is Ctrl-C).
  void Type(const std::string& keys);
  // Reads until the output since the last match contains `text`; false on timeout.
  bool WaitFor(const std::string& text, absl::Duration timeout = absl::Seconds(20));
  // Resizes the terminal (the kernel sends SIGWINCH to the process).
  void Resize(unsigned short rows, unsigned short columns);
  // Waits for the exit; returns the exit code (128 + signal), or -1 on timeout (the process
  // is then killed).
  int Wait(absl::Duration timeout = absl::Seconds(30));
  // Everything the process wrote so far.
  const std::string& output() const { return output_; }

 private:
  // Reads what is available within `timeout`; false at EOF or on timeout with nothing read.
  bool ReadSome(absl::Duration timeout);

  UniqueFd master_;
  pid_t pid_ = -1;
  std::string output_;
  size_t matched_ = 0;  // output_ before this offset was consumed by WaitFor
};

}  // namespace quilt::testing
