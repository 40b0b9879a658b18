#include "quiltd/daemon/callback_poller_keepalive.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <optional>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace quilt {
namespace {

// Counts the Version calls it answers.
class CountingSystem final : public v1::System::CallbackService {
 public:
  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* context, const v1::VersionRequest*,
                                    v1::VersionResponse*) override {
    {
      absl::MutexLock lock(&mu_);
      ++calls_;
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }

  // Whether `count` calls arrived within `timeout`.
  bool AwaitCalls(int count, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, count]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return calls_ >= count; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
  }

 private:
  absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(CallbackPollerKeepAliveTest, CallsVersionUntilDestroyed) {
  CountingSystem system;
  grpc::ServerBuilder builder;
  builder.RegisterService(&system);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  std::optional<CallbackPollerKeepAlive> keepalive(std::in_place, server.get());
  // Every 250 ms: well within the 1 s after which gRPC's callback threads sleep.
  EXPECT_TRUE(system.AwaitCalls(4, absl::Seconds(10))) << system.calls() << " calls";
  keepalive.reset();
  const int calls = system.calls();
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_EQ(system.calls(), calls) << "no call after the keepalive is gone";
  server->Shutdown();
}

}  // namespace
}  // namespace quilt
