#include "quiltd/service/exec_reactor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {
namespace {

// Bytes per output message: one pipe's worth, far below gRPC's 4 MiB cap.
constexpr size_t kChunkBytes = 64 * 1024;

}  // namespace

ExecReactor::ExecReactor(Runtime* runtime, v1::ExecRequest request)
    : runtime_(runtime),
      request_(std::move(request)),
      cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { Run(); });
}

void ExecReactor::Run() {
  absl::Status status = ValidateExecRequest(request_);
  if (status.ok() && !cancel_fd_.valid()) status = absl::InternalError("exec: create eventfd");
  if (!status.ok()) return Finish(ToGrpcStatus(status));
  ExecOptions options;
  options.argv.assign(request_.command().begin(), request_.command().end());
  options.env.assign(request_.env().begin(), request_.env().end());
  options.working_dir = request_.working_dir();
  options.user = request_.user();
  options.timeout_seconds = request_.timeout_seconds();
  absl::StatusOr<ExecProcess> process = runtime_->StartExec(request_.ref(), options);
  if (!process.ok()) return Finish(ToGrpcStatus(process.status()));
  const std::string status_text = Pump(*process);
  ReapExecHelper(process->pid);
  absl::StatusOr<ExecResult> result = ParseExecStatus(status_text);
  if (!result.ok()) return Finish(ToGrpcStatus(result.status()));
  v1::ExecResponse exit;
  exit.mutable_exit()->set_exit_code(result->exit_code);
  exit.mutable_exit()->set_signal(result->signal);
  exit.mutable_exit()->set_timed_out(result->timed_out);
  Send(std::move(exit));
  Finish(grpc::Status::OK);
}

std::string ExecReactor::Pump(ExecProcess& process) {
  std::string status_text;
  bool out_open = true, err_open = true;
  for (;;) {
    pollfd fds[4] = {{process.status_fd.get(), POLLIN, 0},
                     {out_open ? process.stdout_fd.get() : -1, POLLIN, 0},
                     {err_open ? process.stderr_fd.get() : -1, POLLIN, 0},
                     {process.lifeline.valid() ? cancel_fd_.get() : -1, POLLIN, 0}};
    if (::poll(fds, 4, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) out_open = Forward(fds[1].fd, v1::LOG_STREAM_STDOUT) != 0;
    if (fds[2].revents != 0) err_open = Forward(fds[2].fd, v1::LOG_STREAM_STDERR) != 0;
    bool client_gone = fds[3].revents != 0;
    {
      absl::MutexLock lock(&mu_);
      client_gone = client_gone || broken_;
    }
    // Closing the lifeline makes the helper kill the command and exit.
    if (client_gone) process.lifeline.Reset();
    if (fds[0].revents != 0) {
      char buffer[512];
      ssize_t n = ::read(fds[0].fd, buffer, sizeof(buffer));
      if (n > 0) status_text.append(buffer, static_cast<size_t>(n));
      if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
  }
  // The helper writes its status only after the command exited, so whatever the command
  // wrote is already in the pipes; background processes it left may write more, which is
  // not waited for.
  while (out_open && Forward(process.stdout_fd.get(), v1::LOG_STREAM_STDOUT) > 0) {
  }
  while (err_open && Forward(process.stderr_fd.get(), v1::LOG_STREAM_STDERR) > 0) {
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

void ExecReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) broken_ = true;
}

void ExecReactor::OnCancel() {
  const uint64_t one = 1;
  (void)!::write(cancel_fd_.get(), &one, sizeof(one));
}

void ExecReactor::OnDone() {
  // OnDone may run on the pump thread itself (inside its Finish): it cannot join itself.
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();
  } else {
    thread_.join();
  }
  delete this;
}

}  // namespace quilt
