// Streams one Exec: starts the `quilt-monitor exec` helper and copies its output pipes into
// ExecResponse messages, then its exit. A dedicated thread per exec does the reading (a
// pipe read may wait as long as the command runs, which must not hold a gRPC or pool
// thread); it starts no read while a write is pending, so memory stays bounded by one chunk.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

class ExecReactor final : public grpc::ServerWriteReactor<v1::ExecResponse> {
 public:
  ExecReactor(Runtime* runtime, v1::ExecRequest request);

  void OnWriteDone(bool ok) override;
  // Makes the helper kill the command; the stream then ends as usual.
  void OnCancel() override;
  void OnDone() override;

 private:
  void Run();
  // Copies output until the helper has exited; returns its status text.
  std::string Pump(ExecProcess& process);
  // Reads one chunk from non-blocking `fd` and sends it. Returns 1 after a chunk, 0 at EOF
  // (or a read error), -1 when nothing is ready.
  int Forward(int fd, v1::LogStream stream);
  // Writes `response` and waits until gRPC is done with it; false once the client is gone.
  bool Send(v1::ExecResponse response);

  Runtime* runtime_;
  const v1::ExecRequest request_;
  UniqueFd cancel_fd_;  // an eventfd the pump polls; OnCancel writes it
  v1::ExecResponse response_;
  std::thread thread_;

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
