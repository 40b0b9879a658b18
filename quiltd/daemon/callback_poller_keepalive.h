// Keeps gRPC's callback threads polling, so that a call after a quiet moment is not left
// waiting. gRPC 1.51 runs every callback of a callback-API server (all of quiltd's services)
// on two "nexting" threads that poll the callback queue with a 1 s deadline and, after a
// second without an event, sleep 100 ms before polling again (CallbackAlternativeCQ in
// grpc's completion_queue_cc.cc). When both sleep at once, a call waits until one wakes:
// 2 of 40 Version calls made after 1-2.5 s of quiet took 52 and 65 ms (0.1 ms otherwise).
// A Version call over an in-process channel every 250 ms hands them an event well within
// each second; it costs about 30 us of CPU each time.
#pragma once

#include <grpcpp/server.h>

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "quilt/v1/quilt.grpc.pb.h"

namespace quilt {

class CallbackPollerKeepAlive {
 public:
  // Starts calling `server`'s System/Version on a thread of its own. The server must
  // outlive this object.
  explicit CallbackPollerKeepAlive(grpc::Server* server);
  // Stops calling; call before the server shuts down.
  ~CallbackPollerKeepAlive();
  CallbackPollerKeepAlive(const CallbackPollerKeepAlive&) = delete;
  CallbackPollerKeepAlive& operator=(const CallbackPollerKeepAlive&) = delete;

 private:
  void Run();

  std::unique_ptr<v1::System::Stub> stub_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace quilt
