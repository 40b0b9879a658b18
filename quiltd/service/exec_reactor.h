// Streams one Exec: reads the start message, starts the command (Runtime::BeginExec on the
// gRPC thread, FinishExec on the relay thread), relays the client's stdin and resizes
// (InputRelay) and copies the command's output (its pipes, or its terminal's master) into
// ExecResponse messages, then its exit. A thread of its own per exec does the relaying (a
// read may wait as long as the command runs, which must not hold a gRPC or pool thread),
// taken from a ThreadCache so that a busy machine does not delay the exec's start; it starts
// no read while a write is pending, so memory stays bounded by one chunk each way.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/unique_fd.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/runtime/runtime.h"
#include "quiltd/service/input_relay.h"
#include "quiltd/service/parsed_request.h"

namespace quilt {

class ExecReactor final
    : public grpc::ServerBidiReactor<ParsedRequest<v1::ExecRequest>, v1::ExecResponse> {
 public:
  explicit ExecReactor(Runtime* runtime);

  // The first completed read is the start; later ones go to the InputRelay. A message that
  // did not parse ends the stream with its status.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  // Makes the helper kill the command; the stream then ends as usual.
  void OnCancel() override;
  void OnDone() override;

 private:
  void Run(v1::ExecStart start);
  // Relays until the helper has exited; returns its status text.
  std::string Pump(ExecProcess& process, int terminal);
  // Reads one chunk from non-blocking `fd` and sends it. Returns 1 after a chunk, 0 at EOF
  // (or a read error, such as EIO on a terminal whose last user is gone), -1 when nothing
  // is ready.
  int Forward(int fd, v1::LogStream stream);
  // Writes `response` and waits until gRPC is done with it; false once the client is gone.
  bool Send(v1::ExecResponse response);
  // Writes `response` with the call's OK status, as one operation: nothing waits for the
  // write to complete (it may delete the reactor).
  void SendLast(v1::ExecResponse response);
  void Wake();

  Runtime* runtime_;
  UniqueFd wake_fd_;  // an eventfd the pump polls: input arrived, or the call was cancelled
  ParsedRequest<v1::ExecRequest> request_;
  bool started_ = false;  // only used in OnReadDone, which gRPC never runs concurrently
  InputRelay input_;
  absl::Status input_error_;  // pump thread only
  v1::ExecResponse response_;
  std::optional<PendingExec> pending_;  // from BeginExec, for the relay's FinishExec
  // Set once the relay has returned (it may outlive the reactor: OnDone can run inside its
  // Finish, on its own thread, whose id is `relay_thread_`).
  std::shared_ptr<absl::Notification> relay_done_;
  std::thread::id relay_thread_;

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
