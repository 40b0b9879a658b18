#include "quiltd/service/exec_reactor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "common/thread_cache.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {
namespace {

// Bytes per output message: one pipe's worth, far below gRPC's 4 MiB cap.
constexpr size_t kChunkBytes = 64 * 1024;

ExecOptions ExecOptionsOf(const v1::ExecStart& start) {
  ExecOptions options;
  options.argv.assign(start.command().begin(), start.command().end());
  options.env.assign(start.env().begin(), start.env().end());
  options.working_dir = start.working_dir();
  options.user = start.user();
  options.io.timeout_seconds = start.timeout_seconds();
  options.io.stdin_open = start.stdin_open();
  options.io.tty = start.tty();
  options.io.rows = static_cast<uint16_t>(start.terminal_size().rows());
  options.io.columns = static_cast<uint16_t>(start.terminal_size().columns());
  return options;
}

// The relay threads of every Exec, reused from one to the next; never destroyed (idle ones end
// with the process).
ThreadCache& RelayThreads() {
  static ThreadCache* const threads = new ThreadCache();
  return *threads;
}

}  // namespace

ExecReactor::ExecReactor(Runtime* runtime)
    : runtime_(runtime),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      input_(wake_fd_.get(), [this] { StartRead(&request_); }) {
  StartRead(&request_);
}

void ExecReactor::OnReadDone(bool ok) {
  if (started_) {
    if (!ok) return input_.AddEnd();
    if (!request_.status.ok()) return input_.Refuse(request_.status);
    if (request_.message.has_input()) return input_.Add(request_.message.input());
    return input_.Refuse(absl::InvalidArgumentError("start: only the first message may be start"));
  }
  started_ = true;
  absl::Status status;
  if (!ok) {
    status = absl::InvalidArgumentError("start: the stream ended before its start message");
  } else if (!request_.status.ok()) {
    status = request_.status;
  } else if (!request_.message.has_start()) {
    status = absl::InvalidArgumentError("start: the first message must be start");
  } else {
    status = ValidateExecStart(request_.message.start());
  }
  if (status.ok() && !wake_fd_.valid()) status = absl::InternalError("exec: create eventfd");
  if (!status.ok()) return Finish(ToGrpcStatus(status));
  // Here, so that the container's exec server already works on the request while the relay
  // thread wakes up: BeginExec waits for no other process.
  const v1::ExecStart& start = request_.message.start();
  absl::StatusOr<PendingExec> pending = runtime_->BeginExec(start.ref(), ExecOptionsOf(start));
  if (!pending.ok()) return Finish(ToGrpcStatus(pending.status()));
  pending_ = *std::move(pending);
  relay_done_ = std::make_shared<absl::Notification>();
  RelayThreads().Run([this, start, done = relay_done_] {
    Run(start);  // its Finish may delete this reactor
    done->Notify();
  });
}

void ExecReactor::Run(v1::ExecStart start) {
  relay_thread_ = std::this_thread::get_id();
  absl::StatusOr<ExecProcess> process = runtime_->FinishExec(*std::move(pending_));
  if (!process.ok()) return Finish(ToGrpcStatus(process.status()));
  UniqueFd terminal;
  absl::Status failure;
  if (start.tty()) {
    absl::StatusOr<UniqueFd> received = ReceiveExecTerminal(process->terminal_socket.get());
    if (received.ok()) {
      terminal = *std::move(received);
    } else if (!absl::IsNotFound(received.status())) {
      // Without the terminal nobody could read the command's output: stop it.
      failure = received.status();
      process->lifeline.Reset();
    }
    // NOT_FOUND: the helper failed before allocating it; its status line says why.
  }
  input_.Connect(start.stdin_open(), std::move(process->stdin_fd), terminal.get(), nullptr);
  const std::string status_text = Pump(*process, terminal.get());
  ReapExecHelper(process->pid);
  if (!input_error_.ok()) return Finish(ToGrpcStatus(input_error_));
  if (!failure.ok()) return Finish(ToGrpcStatus(failure));
  absl::StatusOr<ExecResult> result = ParseExecStatus(status_text);
  if (!result.ok()) return Finish(ToGrpcStatus(result.status()));
  v1::ExecResponse exit;
  exit.mutable_exit()->set_exit_code(result->exit_code);
  exit.mutable_exit()->set_signal(result->signal);
  exit.mutable_exit()->set_timed_out(result->timed_out);
  SendLast(std::move(exit));
}

std::string ExecReactor::Pump(ExecProcess& process, int terminal) {
  std::string status_text;
  bool out_open = true, err_open = true, terminal_open = terminal >= 0;
  input_error_ = input_.Flush();
  for (;;) {
    pollfd fds[6] = {{process.status_fd.get(), POLLIN, 0},
                     {out_open ? process.stdout_fd.get() : -1, POLLIN, 0},
                     {err_open ? process.stderr_fd.get() : -1, POLLIN, 0},
                     {terminal_open ? terminal : -1, POLLIN, 0},
                     {process.lifeline.valid() ? wake_fd_.get() : -1, POLLIN, 0},
                     {input_.BlockedFd(), POLLOUT, 0}};
    if (::poll(fds, 6, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) out_open = Forward(fds[1].fd, v1::LOG_STREAM_STDOUT) != 0;
    if (fds[2].revents != 0) err_open = Forward(fds[2].fd, v1::LOG_STREAM_STDERR) != 0;
    if (fds[3].revents != 0) terminal_open = Forward(terminal, v1::LOG_STREAM_STDOUT) != 0;
    if (fds[4].revents != 0) {
      uint64_t count;
      (void)!::read(wake_fd_.get(), &count, sizeof(count));
    }
    if (absl::Status input = input_.Flush(); !input.ok() && input_error_.ok()) {
      input_error_ = input;
    }
    bool stop = !input_error_.ok();
    {
      absl::MutexLock lock(&mu_);
      stop = stop || broken_ || cancelled_;
    }
    // Closing the lifeline makes the helper kill the command and exit.
    if (stop) process.lifeline.Reset();
    if (fds[0].revents != 0) {
      char buffer[512];
      ssize_t n = ::read(fds[0].fd, buffer, sizeof(buffer));
      if (n > 0) status_text.append(buffer, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
  }
  // The helper writes its status only after the command exited, so whatever the command
  // wrote is already in the pipes (or the terminal); background processes it left may write
  // more, which is not waited for.
  while (out_open && Forward(process.stdout_fd.get(), v1::LOG_STREAM_STDOUT) > 0) {
  }
  while (err_open && Forward(process.stderr_fd.get(), v1::LOG_STREAM_STDERR) > 0) {
  }
  while (terminal_open && Forward(terminal, v1::LOG_STREAM_STDOUT) > 0) {
  }
  return status_text;
}

int ExecReactor::Forward(int fd, v1::LogStream stream) {
  std::string data(kChunkBytes, '\0');
  ssize_t n;
  do {
    n = ::read(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  if (n == 0) return 0;
  if (n < 0) return errno == EAGAIN ? -1 : 0;
  data.resize(static_cast<size_t>(n));
  v1::ExecResponse response;
  response.mutable_output()->set_stream(stream);
  response.mutable_output()->set_data(std::move(data));
  Send(std::move(response));
  return 1;
}

bool ExecReactor::Send(v1::ExecResponse response) {
  {
    absl::MutexLock lock(&mu_);
    if (broken_) return false;
    writing_ = true;
  }
  response_ = std::move(response);
  StartWrite(&response_);
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](bool* writing) { return !*writing; }, &writing_));
  return !broken_;
}

void ExecReactor::SendLast(v1::ExecResponse response) {
  bool broken;
  {
    absl::MutexLock lock(&mu_);
    broken = broken_;
  }
  if (broken) return Finish(grpc::Status::OK);
  // The exit and the status leave together: the client gets both in one read, and the relay
  // does not wait for a write completion between them (a thread handoff each way).
  response_ = std::move(response);
  StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
}

void ExecReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) broken_ = true;
}

void ExecReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  Wake();
}

void ExecReactor::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

void ExecReactor::OnDone() {
  // OnDone may run on the relay thread itself (inside its Finish): it cannot wait for itself,
  // and the relay touches nothing of the reactor after Finish. Anywhere else, the relay is
  // let finish first. relay_thread_ was set before any Finish of the relay, so before this.
  if (relay_done_ != nullptr && relay_thread_ != std::this_thread::get_id()) {
    relay_done_->WaitForNotification();
  }
  delete this;
}

}  // namespace quilt
