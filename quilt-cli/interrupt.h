// Turning Ctrl-C (SIGINT), SIGTERM, SIGHUP and SIGQUIT into a cancelled gRPC call, for `run`
// and `exec`.
#pragma once

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace quilt::cli {

// While alive, SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in the creating thread (and in every
// thread it starts later, gRPC's included) and taken by a watcher thread instead, which records the
// signal and cancels the call registered with Watch. Create it before any gRPC channel, so that
// no gRPC thread can receive the signal and kill the process before the container is stopped.
class InterruptWatcher {
 public:
  InterruptWatcher();
  // Stops the watcher and restores the signal mask.
  ~InterruptWatcher();
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // Registers the call to cancel when a signal arrives (nullptr: none). A call registered
  // after a signal arrived is cancelled at once.
  void Watch(grpc::ClientContext* context);

  // The signal that arrived first, or 0.
  int signal() const { return signal_.load(); }

 private:
  void Loop();

  sigset_t signals_;
  sigset_t old_mask_;
  std::atomic<int> signal_{0};
  std::atomic<bool> done_{false};
  std::mutex mu_;
  grpc::ClientContext* context_ = nullptr;  // guarded by mu_
  std::thread thread_;
};

}  // namespace quilt::cli
