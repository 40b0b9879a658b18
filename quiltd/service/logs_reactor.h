// Streams one container's log: history, then (with follow) live output until the container
// can write no more and everything was sent. Waiting for output is a LogWatcher callback,
// never a blocked thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/logs/log_reader.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

class LogsReactor final : public grpc::ServerWriteReactor<v1::LogsResponse> {
 public:
  LogsReactor(grpc::CallbackServerContext* context, Runtime* runtime, v1::LogsRequest request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Sends the next batch, finishes, or waits for the log to change.
  void SendNext();
  void FinishOnce(const grpc::Status& status);

  Runtime* runtime_;
  const v1::LogsRequest request_;
  std::string id_;
  std::string path_;
  std::optional<LogReader> reader_;
  v1::LogsResponse batch_;

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wait_handle_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace quilt
