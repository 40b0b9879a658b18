// Images.Import and Images.ImportWithProgress: one import, two ways of answering. The import
// runs on the pool; the streaming call's reactor turns the meter's readings into messages.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/thread_pool.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/image/progress_meter.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

// The import both RPCs run: validates the request, checks the file it names, imports it
// (reporting on `meter` when not null) and returns the answer. Blocks: call it on the pool.
// Fails as ImageStore::Import does, with INVALID_ARGUMENT naming the field for a bad request.
absl::StatusOr<v1::ImportResponse> ImportFromRequest(Runtime* runtime,
                                                     const v1::ImportRequest& request,
                                                     ProgressMeter* meter);

// The progress message for a meter reading.
v1::ImportProgress ToProto(const ProgressReading& reading);

// Streams an import's progress, then its result. At most one write is in flight: a reading
// that comes while one is queues behind it, a tick replacing a tick queued before it (phase
// changes are all kept), so a slow client holds the import up never and memory hardly.
// Cancelling the call cancels the meter, which stops the import.
class ImportReactor final : public grpc::ServerWriteReactor<v1::ImportWithProgressResponse> {
 public:
  ImportReactor(Runtime* runtime, ThreadPool* pool, const v1::ImportRequest& request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // What to do with the stream once mu_ is released.
  enum class Step { kNone, kWrite, kWriteAndFinish, kFinish };

  void Run();
  // Queues a message; `tick` marks a byte-count update that a later one may replace.
  void Post(v1::ImportWithProgressResponse message, bool tick) ABSL_LOCKS_EXCLUDED(mu_);
  // Picks the next step: a queued message to write, or the Finish once the import ended.
  Step NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts `step`. The reactor may be gone when it returns after a finishing step.
  void Take(Step step, const grpc::Status& status);

  Runtime* runtime_;
  const v1::ImportRequest request_;
  ProgressMeter meter_;

  absl::Mutex mu_;
  std::deque<v1::ImportWithProgressResponse> queue_ ABSL_GUARDED_BY(mu_);
  bool last_is_tick_ ABSL_GUARDED_BY(mu_) = false;
  // The message gRPC is writing; touched only by whoever set writing_.
  v1::ImportWithProgressResponse current_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;                // cancelled, or a write failed
  std::optional<grpc::Status> final_ ABSL_GUARDED_BY(mu_);  // set when the import ended
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
