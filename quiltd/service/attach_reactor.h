// Streams one Attach: reads the ref, connects to the container's monitor (which owns the
// workload's terminal or stdin pipe, so this works across quiltd restarts), relays the
// client's stdin and resizes straight to the fd the monitor handed over (InputRelay) and
// the monitor's output datagrams back as AttachResponse messages, until the monitor closes
// the connection as the workload ends. A dedicated thread per attach does the relaying.
#pragma once

#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/runtime/runtime.h"
#include "quiltd/service/input_relay.h"
#include "quiltd/service/parsed_request.h"

namespace quilt {

class AttachReactor final
    : public grpc::ServerBidiReactor<ParsedRequest<v1::AttachRequest>, v1::AttachResponse> {
 public:
  explicit AttachReactor(Runtime* runtime);

  // The first completed read is the ref; later ones go to the InputRelay. A message that did
  // not parse ends the stream with its status.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void Run(std::string ref);
  // Relays until the monitor closes the connection or the client goes away; returns the
  // status to finish with.
  absl::Status Pump(AttachConnection& connection);
  // Reads one datagram and sends it. Returns 1 after a message, 0 at EOF, -1 when nothing
  // is ready.
  int Forward(int socket);
  bool Send(v1::AttachResponse response);
  void Wake();

  Runtime* runtime_;
  UniqueFd wake_fd_;
  ParsedRequest<v1::AttachRequest> request_;
  bool started_ = false;  // only used in OnReadDone, which gRPC never runs concurrently
  InputRelay input_;
  v1::AttachResponse response_;
  std::thread thread_;

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
