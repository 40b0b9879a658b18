#include "tests/integration/pty_session.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#include "absl/time/clock.h"

extern char** environ;

namespace quilt::testing {

PtySession::PtySession(const std::vector<std::string>& argv,
                       const std::vector<std::string>& extra_env, unsigned short rows,
                       unsigned short columns) {
  // Everything the child needs is built before fork: the test process has threads.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp, args;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (std::string& a : argv_copy) args.push_back(a.data());
  args.push_back(nullptr);
  winsize size{};
  size.ws_row = rows;
  size.ws_col = columns;
  int master = -1;
  pid_ = forkpty(&master, nullptr, nullptr, &size);
  if (pid_ == 0) {
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  master_.Reset(master);
  if (master_.valid()) fcntl(master_.get(), F_SETFD, FD_CLOEXEC);
}

PtySession::~PtySession() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void PtySession::Type(const std::string& keys) {
  size_t done = 0;
  while (done < keys.size()) {
    ssize_t n = write(master_.get(), keys.data() + done, keys.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

bool PtySession::ReadSome(absl::Duration timeout) {
  pollfd ready{master_.get(), POLLIN, 0};
  if (poll(&ready, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return false;
  char buffer[4096];
  ssize_t n = read(master_.get(), buffer, sizeof(buffer));
  if (n <= 0) return false;  // EIO: the process and everything it started closed the terminal
  output_.append(buffer, static_cast<size_t>(n));
  return true;
}

bool PtySession::WaitFor(const std::string& text, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    size_t found = output_.find(text, matched_);
    if (found != std::string::npos) {
      matched_ = found + text.size();
      return true;
    }
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    if (!ReadSome(left) && absl::Now() < deadline) {
      // EOF: nothing more will come.
      return output_.find(text, matched_) != std::string::npos;
    }
  }
}

bool PtySession::Cooked() const {
  termios mode{};
  if (tcgetattr(master_.get(), &mode) != 0) return false;
  return (mode.c_lflag & ECHO) != 0 && (mode.c_lflag & ICANON) != 0;
}

void PtySession::Resize(unsigned short rows, unsigned short columns) {
  winsize size{};
  size.ws_row = rows;
  size.ws_col = columns;
  ioctl(master_.get(), TIOCSWINSZ, &size);
}

int PtySession::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      // Keep what it wrote last.
      while (ReadSome(absl::Milliseconds(50))) {
      }
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    // Draining keeps the process from blocking on a full terminal.
    if (!ReadSome(absl::Milliseconds(50))) usleep(20 * 1000);
  }
  return -1;
}

}  // namespace quilt::testing
