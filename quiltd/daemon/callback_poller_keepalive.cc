#include "quiltd/daemon/callback_poller_keepalive.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "absl/time/time.h"

namespace quilt {
namespace {

constexpr absl::Duration kInterval = absl::Milliseconds(250);

}  // namespace

CallbackPollerKeepAlive::CallbackPollerKeepAlive(grpc::Server* server)
    : stub_(v1::System::NewStub(server->InProcessChannel(grpc::ChannelArguments()))),
      thread_([this] { Run(); }) {}

CallbackPollerKeepAlive::~CallbackPollerKeepAlive() {
  stop_.Notify();
  thread_.join();
}

void CallbackPollerKeepAlive::Run() {
  while (!stop_.WaitForNotificationWithTimeout(kInterval)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    v1::VersionResponse response;
    // A failure needs nothing done: the point is the event it makes, which a failed call
    // makes too.
    (void)stub_->Version(&context, v1::VersionRequest(), &response);
  }
}

}  // namespace quilt
