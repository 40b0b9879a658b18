#include "quiltd/monitor/exec_server.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "common/fd_passing.h"
#include "common/unique_fd.h"
#include "quiltd/monitor/container_init.h"
#include "quiltd/monitor/exec_hardening.h"
#include "quiltd/monitor/exec_helper.h"
#include "quiltd/monitor/exec_server_protocol.h"
#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {
namespace {

// A quiltd that connected sends its request at once; this only bounds a peer that does not.
constexpr int kRequestTimeoutSeconds = 10;
// Received fds are moved here first, above every fd number of the helper's layout.
constexpr int kHighFd = 16;

// What every request is served with, prepared by the starter before entering the container.
struct Server {
  int listener = -1;
  int null_fd = -1;  // the host's /dev/null
  const ExecHardening* hardening = nullptr;
  uint64_t capabilities = 0;  // of the container's config, which `hardening` was built for
  std::string seccomp_program;
};

int StatusFail(int error, const char* message) {
  dprintf(kExecStatusFd, "error %d %s: %s\n", error, message, strerror(error));
  return 1;
}

// Binds <bundle>/exec.sock by its name relative to the bundle directory (a bundle path can be
// longer than a socket address holds). Mode 0600 before listen: nobody can connect in
// between (connect fails until listen).
UniqueFd Listen(int bundle_dir) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path, kExecServerSocketName, sizeof(kExecServerSocketName));
  UniqueFd listener(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!listener.valid() || fchdir(bundle_dir) != 0) return UniqueFd();
  // A socket left by a server that died (killed, or its container restarted).
  if (unlinkat(bundle_dir, kExecServerSocketName, 0) != 0 && errno != ENOENT) return UniqueFd();
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      fchmodat(bundle_dir, kExecServerSocketName, 0600, 0) != 0 ||
      listen(listener.get(), SOMAXCONN) != 0) {
    return UniqueFd();
  }
  return listener;
}

void Reply(int connection, const char* text, size_t size) {
  (void)!send(connection, text, size, MSG_NOSIGNAL);
}

void ReplyError(int connection, int error, const char* message) {
  char text[256];
  const int n = snprintf(text, sizeof(text), "error %d %s: %s", error, message, strerror(error));
  Reply(connection, text, static_cast<size_t>(n) < sizeof(text) ? n : sizeof(text) - 1);
}

// Reads (and drops) the request on `connection` before an answer that turns it down: a
// socket closed with unread data resets the connection (on some kernels the peer then reads
// ECONNRESET instead of the answer).
void DropRequest(int connection) {
  const timeval timeout{1, 0};
  setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ExecServerRequest request;
  UniqueFd fds[kMaxPassedFds];
  int count = 0;
  (void)ReceiveFds(connection, &request, sizeof(request), fds, kMaxPassedFds, &count);
}

// The peer's pid as this process sees it is 0 when the peer is outside its pid namespace,
// the container's: any process of the container has a pid there. The uid check keeps out
// other host users (the socket's mode already does).
bool FromOutsideTheContainer(int connection) {
  ucred peer{};
  socklen_t size = sizeof(peer);
  if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) return false;
  return peer.pid == 0 && peer.uid == getuid();
}

// Moves fds[i] to targets[i] (fds are closed, targets are not CLOEXEC): through numbers above
// every target first, so that no fd lands on one still to be moved.
bool PlaceFds(UniqueFd* fds, const int* targets, int count) {
  for (int i = 0; i < count; ++i) {
    fds[i].Reset(fcntl(fds[i].get(), F_DUPFD_CLOEXEC, kHighFd));
    if (!fds[i].valid()) return false;
  }
  for (int i = 0; i < count; ++i) {
    if (dup2(fds[i].get(), targets[i]) < 0) return false;
  }
  for (int i = 0; i < count; ++i) fds[i].Reset();
  return true;
}

// Out of pids (the container's pids.max) or memory: the next request, if one comes within
// 0.1 s, gets the reason rather than waiting in the backlog until quiltd gives up.
void AnswerWithError(int listener, int error) {
  pollfd ready{listener, POLLIN, 0};
  if (poll(&ready, 1, 100) != 1) return;
  UniqueFd connection(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!connection.valid()) return;
  DropRequest(connection.get());
  ReplyError(connection.get(), error, "fork exec handlers");
}

// What the command's process hands its waiter once it has taken a request: the timeout, with
// the status pipe, the lifeline and the command's stderr attached.
struct Handoff {
  int32_t timeout_seconds = 0;
};

// The command's process, after accepting: takes the request (its fds at the helper's
// numbers), hands the waiter what it needs, and becomes the command.
[[noreturn]] void TakeRequest(UniqueFd connection, const Server& server, int waiter_fd,
                              int exec_status_fd) {
  close(server.listener);
  // Out of the way of the helper's fd numbers, which PlaceFds overwrites: the pair's pipe
  // and socket were made with the lowest free numbers, often among them.
  connection.Reset(fcntl(connection.get(), F_DUPFD_CLOEXEC, kHighFd));
  const int null_fd = fcntl(server.null_fd, F_DUPFD_CLOEXEC, kHighFd);
  const int waiter = fcntl(waiter_fd, F_DUPFD_CLOEXEC, kHighFd);
  const int exec_status = fcntl(exec_status_fd, F_DUPFD_CLOEXEC, kHighFd);
  if (!connection.valid() || null_fd < 0 || waiter < 0 || exec_status < 0) _exit(1);
  close(server.null_fd);
  close(waiter_fd);
  close(exec_status_fd);
  const timeval timeout{kRequestTimeoutSeconds, 0};
  setsockopt(connection.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ExecServerRequest request;
  UniqueFd fds[kMaxPassedFds];
  int count = 0;
  const ssize_t n =
      ReceiveFds(connection.get(), &request, sizeof(request), fds, kMaxPassedFds, &count);
  if (n == 0) _exit(0);  // a connection without a request
  if (n != static_cast<ssize_t>(sizeof(request)) || request.magic != kExecServerMagic ||
      count != ExecServerRequestFdCount(request)) {
    ReplyError(connection.get(), n < 0 ? errno : EINVAL, "read exec request");
    _exit(1);
  }
  // The helper's numbers (exec_helper.h), in the order exec_server_protocol.h lists them.
  const int targets[] = {
      0, 1, 2, kExecStatusFd, kExecLifelineFd, request.tty != 0 ? kExecTerminalFd : kExecStdinFd};
  if (!PlaceFds(fds, targets, count)) {
    ReplyError(connection.get(), errno, "take exec request fds");
    _exit(1);
  }
  // From here on the exec is the status pipe's business.
  if (send(connection.get(), &kExecServerAccepted, 1, MSG_NOSIGNAL) != 1) _exit(1);
  connection.Reset();
  MonitorConfig config;
  if (!ReadExecConfig(0, &config)) _exit(1);
  if (config.capabilities != server.capabilities ||
      config.seccomp_program != server.seccomp_program) {
    _exit(StatusFail(EINVAL, "exec config's hardening differs from the container's"));
  }
  ExecHelperOptions options;
  options.timeout_seconds = request.timeout_seconds;
  options.stdin_open = request.stdin_open != 0;
  options.tty = request.tty != 0;
  options.rows = request.rows;
  options.columns = request.columns;
  CommandStdio stdio;
  stdio.stdin_fd.Reset(
      fcntl(options.stdin_open && !options.tty ? kExecStdinFd : null_fd, F_DUPFD_CLOEXEC, 0));
  if (!stdio.stdin_fd.valid()) _exit(StatusFail(errno, "open exec stdin"));
  if (options.tty && OpenCommandTerminal(config, options, &stdio.terminal_slave) != 0) _exit(1);
  const CommandLine command = MakeCommandLine(config);
  // The waiter reports from here on: the exec's end, or why the exec failed.
  Handoff handoff;
  handoff.timeout_seconds = options.timeout_seconds;
  const int handed[] = {kExecStatusFd, kExecLifelineFd, 2};
  if (!SendFds(waiter, handed, 3, &handoff, sizeof(handoff))) {
    _exit(StatusFail(errno, "hand the exec to its waiter"));
  }
  BecomeCommand(config, *server.hardening, command, stdio, exec_status);
}

// A pair made ahead of time, so that a request finds processes ready for it (no wakeup of
// the server and no fork on the exec's path): this waiter, and its child that waits in
// accept and becomes the command. Once the child has a connection it tells the server (one
// byte on `taken`), which makes the next pair. The waiter then waits for the command as the
// helper does (ReportCommand).
[[noreturn]] void MakeHandlerPair(const Server& server, pid_t server_pid, int taken) {
  // Idle, the pair goes with the server (killed, say): a lone pair would serve one more
  // request and leave nobody listening behind it. Busy, it finishes its exec.
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  if (getppid() != server_pid) _exit(1);
  // The server ignores SIGCHLD so that its pairs are reaped without it; the waiter must wait
  // for its command.
  signal(SIGCHLD, SIG_DFL);
  const pid_t self = getpid();
  int exec_status[2], channel[2];
  if (pipe2(exec_status, O_CLOEXEC) != 0 ||
      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) != 0) {
    _exit(1);
  }
  const pid_t command = fork();
  if (command == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != self) _exit(1);
    close(exec_status[0]);
    close(channel[0]);
    UniqueFd connection;
    while (!connection.valid()) {
      connection.Reset(accept4(server.listener, nullptr, nullptr, SOCK_CLOEXEC));
      if (!connection.valid() && errno != EINTR && errno != ECONNABORTED) _exit(1);
    }
    // Busy: a waiter killed from here on leaves the command running, as a helper would.
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    (void)!write(taken, "t", 1);
    close(taken);
    if (!FromOutsideTheContainer(connection.get())) {
      DropRequest(connection.get());
      Reply(connection.get(), &kExecServerRefused, 1);
      _exit(0);
    }
    TakeRequest(std::move(connection), server, channel[1], exec_status[1]);
  }
  if (command < 0) {
    AnswerWithError(server.listener, errno);
    _exit(1);
  }
  close(taken);
  close(server.listener);
  close(exec_status[1]);
  close(channel[1]);
  Handoff handoff;
  UniqueFd handed[3];
  int count = 0;
  const ssize_t n = ReceiveFds(channel[0], &handoff, sizeof(handoff), handed, 3, &count);
  // No handoff: the child died idle, refused a peer or reported a failure itself.
  if (n != static_cast<ssize_t>(sizeof(handoff)) || count != 3) {
    waitpid(command, nullptr, 0);
    _exit(0);
  }
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  close(channel[0]);
  // The command's failure is read from here: out of the way of the numbers placed below.
  const int command_status = fcntl(exec_status[0], F_DUPFD_CLOEXEC, kHighFd);
  close(exec_status[0]);
  const int targets[] = {kExecStatusFd, kExecLifelineFd, 2};
  if (command_status < 0 || !PlaceFds(handed, targets, 3)) {
    kill(command, SIGKILL);
    _exit(1);
  }
  _exit(ReportCommand(command, command_status, handoff.timeout_seconds));
}

[[noreturn]] void Serve(const Server& server) {
  setsid();
  prctl(PR_SET_NAME, "quilt-exec", 0, 0, 0);
  // Nothing of the starter's: stdio on /dev/null, the listener, /dev/null.
  dup2(server.null_fd, 0);
  dup2(server.null_fd, 1);
  dup2(server.null_fd, 2);
  const int keep[] = {server.listener, server.null_fd};
  CloseFdsExcept(keep, 2);
  // Handlers are reaped by the kernel.
  signal(SIGCHLD, SIG_IGN);
#ifdef __GLIBC__
  // What the starter allocated and freed is not kept for the container's lifetime.
  malloc_trim(0);
#endif
  const pid_t self = getpid();
  for (;;) {
    int taken[2];
    if (pipe2(taken, O_CLOEXEC) != 0) {
      poll(nullptr, 0, 100);
      continue;
    }
    const pid_t pair = fork();
    if (pair == 0) {
      close(taken[0]);
      MakeHandlerPair(server, self, taken[1]);
    }
    close(taken[1]);
    UniqueFd taken_read(taken[0]);
    if (pair < 0) {
      AnswerWithError(server.listener, errno);
      continue;
    }
    char byte = 0;
    ssize_t n;
    do {
      n = read(taken_read.get(), &byte, 1);
    } while (n < 0 && errno == EINTR);
    // EOF: the pair died idle (killed, or accept failed); a new one, without spinning.
    if (n != 1) poll(nullptr, 0, 10);
  }
}

}  // namespace

int RunExecServerStart(pid_t init_pid) {
  // As the helper: the server forks commands in the container's pid namespace, where its
  // /proc entries (exe: the host's binary; fd: the socket) must stay closed.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  MonitorConfig config;
  if (!ReadExecConfig(0, &config)) return 1;
  UniqueFd null_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd.valid()) return StatusFail(errno, "open /dev/null");
  ExecHardening hardening;
  if (!PrepareExecHardening(config, &hardening)) return 1;
  UniqueFd bundle(open(config.bundle_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!bundle.valid()) return StatusFail(errno, "open bundle directory");
  UniqueFd listener = Listen(bundle.get());
  if (!listener.valid()) return StatusFail(errno, "listen on exec.sock");
  if (!EnterContainer(config, init_pid)) {
    unlinkat(bundle.get(), kExecServerSocketName, 0);
    return 1;
  }
  // The server and its forks then live under the container's own no_new_privs, bounding set
  // and filter, which each command inherits instead of applying (it still sets its ids and
  // capability sets): less per exec, and less a server could do if it were subverted.
  const char* step = nullptr;
  if (const int error = hardening.ApplyToSelf(&step); error != 0) {
    unlinkat(bundle.get(), kExecServerSocketName, 0);
    return StatusFail(error, step);
  }
  bundle.Reset();
  const Server server{listener.get(), null_fd.get(), &hardening, config.capabilities,
                      std::move(config.seccomp_program)};
  config = MonitorConfig();
  // The middle process is in the container's pid namespace: when it exits, the kernel gives
  // its child to that namespace's init (not to quiltd, a subreaper outside it).
  const pid_t middle = fork();
  if (middle == 0) {
    const pid_t server_pid = fork();
    if (server_pid == 0) Serve(server);
    _exit(server_pid < 0 ? errno : 0);
  }
  if (middle < 0) return StatusFail(errno, "fork exec server");
  int status = 0;
  while (waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return StatusFail(WIFEXITED(status) ? WEXITSTATUS(status) : EINTR, "fork exec server");
  }
  dprintf(kExecStatusFd, "ok\n");
  return 0;
}

}  // namespace quilt
