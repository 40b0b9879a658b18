#include "quiltd/service/import_reactor.h"

#include <utility>

#include "common/status_macros.h"
#include "quiltd/service/proto_conversion.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {
namespace {

v1::ImportPhase PhaseToProto(ImportPhase phase) {
  switch (phase) {
    case ImportPhase::kUnpacking:
      return v1::IMPORT_PHASE_UNPACKING;
    case ImportPhase::kSyncing:
      return v1::IMPORT_PHASE_SYNCING;
  }
  return v1::IMPORT_PHASE_UNSPECIFIED;
}

}  // namespace

absl::StatusOr<v1::ImportResponse> ImportFromRequest(Runtime* runtime,
                                                     const v1::ImportRequest& request,
                                                     ProgressMeter* meter) {
  QUILT_RETURN_IF_ERROR(ValidateImportRequest(request));
  QUILT_RETURN_IF_ERROR(CheckImportFile(request.path()));
  QUILT_ASSIGN_OR_RETURN(ImportResult result, runtime->ImportImage(request.path(), request.name(),
                                                                   request.tag(), meter));
  v1::ImportResponse response;
  *response.mutable_image() = ToProto(result.image);
  response.set_unpacked(result.unpacked);
  return response;
}

v1::ImportProgress ToProto(const ProgressReading& reading) {
  v1::ImportProgress progress;
  progress.set_phase(PhaseToProto(reading.phase));
  progress.set_layer(reading.layer);
  progress.set_layer_count(reading.layer_count);
  progress.set_bytes_done(reading.bytes_done);
  progress.set_bytes_total(reading.bytes_total);
  return progress;
}

ImportReactor::ImportReactor(Runtime* runtime, ThreadPool* pool, const v1::ImportRequest& request)
    : runtime_(runtime),
      request_(request),
      meter_([this](const ProgressReading& reading, bool phase_change) {
        v1::ImportWithProgressResponse message;
        *message.mutable_progress() = ToProto(reading);
        Post(std::move(message), /*tick=*/!phase_change);
      }) {
  pool->Schedule([this] { Run(); });
}

void ImportReactor::Run() {
  absl::StatusOr<v1::ImportResponse> result = ImportFromRequest(runtime_, request_, &meter_);
  if (result.ok()) meter_.Flush();  // the last byte count, before the result
  const grpc::Status status = ToGrpcStatus(result.status());
  Step step;
  {
    absl::MutexLock lock(&mu_);
    if (!status.ok()) {
      queue_.clear();  // the status says it all
    } else if (!broken_) {
      v1::ImportWithProgressResponse last;
      *last.mutable_result() = *std::move(result);
      queue_.push_back(std::move(last));
    }
    final_ = status;
    step = NextLocked();
  }
  // Nothing of this reactor may be touched after this: OnDone may delete it.
  Take(step, status);
}

void ImportReactor::Post(v1::ImportWithProgressResponse message, bool tick) {
  Step step;
  {
    absl::MutexLock lock(&mu_);
    if (broken_) return;
    if (tick && last_is_tick_ && !queue_.empty()) {
      queue_.back() = std::move(message);
    } else {
      queue_.push_back(std::move(message));
    }
    last_is_tick_ = tick;
    step = NextLocked();
  }
  // Only a write: the import has not ended while it still reports.
  Take(step, grpc::Status::OK);
}

ImportReactor::Step ImportReactor::NextLocked() {
  if (writing_ || finishing_) return Step::kNone;
  if (!broken_ && !queue_.empty()) {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    if (queue_.empty()) last_is_tick_ = false;
    if (current_.has_result()) {
      finishing_ = true;
      return Step::kWriteAndFinish;
    }
    writing_ = true;
    return Step::kWrite;
  }
  if (final_.has_value()) {
    finishing_ = true;
    return Step::kFinish;
  }
  return Step::kNone;
}

void ImportReactor::Take(Step step, const grpc::Status& status) {
  switch (step) {
    case Step::kNone:
      return;
    case Step::kWrite:
      StartWrite(&current_);
      return;
    case Step::kWriteAndFinish:
      StartWriteAndFinish(&current_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    case Step::kFinish:
      Finish(status);
      return;
  }
}

void ImportReactor::OnWriteDone(bool ok) {
  Step step;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;
    step = NextLocked();
    if (final_.has_value()) status = *final_;
  }
  Take(step, status);
}

void ImportReactor::OnCancel() {
  meter_.Cancel();
  Step step;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    broken_ = true;
    queue_.clear();
    step = NextLocked();
    if (final_.has_value()) status = *final_;
  }
  Take(step, status);
}

void ImportReactor::OnDone() { delete this; }

}  // namespace quilt
