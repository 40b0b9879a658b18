#include "quiltd/service/attach_reactor.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

#include "common/log_record.h"
#include "quiltd/monitor/attach_server.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {

AttachReactor::AttachReactor(Runtime* runtime)
    : runtime_(runtime),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      input_(wake_fd_.get(), [this] { StartRead(&request_); }) {
  StartRead(&request_);
}

void AttachReactor::OnReadDone(bool ok) {
  if (started_) {
    if (!ok) return input_.AddEnd();
    if (!request_.status.ok()) return input_.Refuse(request_.status);
    if (request_.message.has_input()) return input_.Add(request_.message.input());
    return input_.Refuse(absl::InvalidArgumentError("ref: only the first message may be ref"));
  }
  started_ = true;
  absl::Status status;
  if (!ok) {
    status = absl::InvalidArgumentError("ref: the stream ended before its first message");
  } else if (!request_.status.ok()) {
    status = request_.status;
  } else if (!request_.message.has_ref()) {
    status = absl::InvalidArgumentError("ref: the first message must be ref");
  } else {
    status = ValidateRef(request_.message.ref());
  }
  if (status.ok() && !wake_fd_.valid()) status = absl::InternalError("attach: create eventfd");
  if (!status.ok()) return Finish(ToGrpcStatus(status));
  thread_ = std::thread([this, ref = request_.message.ref()] { Run(ref); });
}

void AttachReactor::Run(std::string ref) {
  absl::StatusOr<AttachConnection> connection = runtime_->Attach(ref);
  if (!connection.ok()) return Finish(ToGrpcStatus(connection.status()));
  const int socket = connection->socket.get();
  if (connection->tty) {
    input_.Connect(connection->stdin_open, UniqueFd(), connection->input.get(), nullptr);
  } else {
    input_.Connect(connection->stdin_open, std::move(connection->input), -1,
                   [socket] { CloseAttachedStdin(socket).IgnoreError(); });
  }
  Finish(ToGrpcStatus(Pump(*connection)));
}

absl::Status AttachReactor::Pump(AttachConnection& connection) {
  absl::Status input_error = input_.Flush();
  while (input_error.ok()) {
    pollfd fds[3] = {{connection.socket.get(), POLLIN, 0},
                     {wake_fd_.get(), POLLIN, 0},
                     {input_.BlockedFd(), POLLOUT, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError("attach: poll failed");
    }
    if (fds[0].revents != 0 && Forward(connection.socket.get()) == 0) {
      if (::access(connection.exit_path.c_str(), F_OK) == 0) return absl::OkStatus();
      return absl::AbortedError(
          "attach: the monitor dropped this client, which read the output too slowly (the log "
          "has all of it)");
    }
    if (fds[1].revents != 0) {
      uint64_t count;
      (void)!::read(wake_fd_.get(), &count, sizeof(count));
    }
    input_error = input_.Flush();
    absl::MutexLock lock(&mu_);
    if (broken_ || cancelled_) return absl::CancelledError("attach: the client went away");
  }
  return input_error;
}

int AttachReactor::Forward(int socket) {
  std::string data(kLogMaxPayload + 1, '\0');
  ssize_t n;
  do {
    n = ::recv(socket, data.data(), data.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return -1;
  if (n <= 0) return 0;
  const bool stderr_stream = data[0] == static_cast<char>(kAttachStderr);
  data.resize(static_cast<size_t>(n));
  data.erase(0, 1);
  if (data.empty()) return 1;
  v1::AttachResponse response;
  response.mutable_output()->set_stream(stderr_stream ? v1::LOG_STREAM_STDERR
                                                      : v1::LOG_STREAM_STDOUT);
  response.mutable_output()->set_data(std::move(data));
  return Send(std::move(response)) ? 1 : -1;
}

bool AttachReactor::Send(v1::AttachResponse response) {
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

void AttachReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;
  }
  if (!ok) Wake();
}

void AttachReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }
  Wake();
}

void AttachReactor::Wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

void AttachReactor::OnDone() {
  // OnDone may run on the pump thread itself (inside its Finish): it cannot join itself.
  if (thread_.joinable()) {
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();
    } else {
      thread_.join();
    }
  }
  delete this;
}

}  // namespace quilt
