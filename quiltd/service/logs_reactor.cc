#include "quiltd/service/logs_reactor.h"

#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {
namespace {

// Bytes of log data per message: large enough for throughput, far below gRPC's 4 MiB cap.
constexpr size_t kBatchBytes = 256 * 1024;

LogFilter FilterOf(const v1::LogsRequest& request) {
  LogFilter filter;
  if (request.stream() == v1::LOG_STREAM_STDOUT) filter.stream = LogStreamId::kStdout;
  if (request.stream() == v1::LOG_STREAM_STDERR) filter.stream = LogStreamId::kStderr;
  filter.exclude_setup = request.exclude_setup();
  if (request.has_since()) {
    filter.since_ns = request.since().seconds() * 1'000'000'000 + request.since().nanos();
  }
  return filter;
}

}  // namespace

LogsReactor::LogsReactor(grpc::CallbackServerContext*, Runtime* runtime, v1::LogsRequest request)
    : runtime_(runtime), request_(std::move(request)) {
  absl::Status valid = ValidateLogsRequest(request_);
  if (!valid.ok()) {
    FinishOnce(ToGrpcStatus(valid));
    return;
  }
  absl::StatusOr<ContainerRecord> record = runtime_->Get(request_.ref());
  if (!record.ok()) {
    FinishOnce(ToGrpcStatus(record.status()));
    return;
  }
  id_ = record->id;
  absl::StatusOr<std::string> path = runtime_->LogPath(id_);
  absl::StatusOr<LogReader> reader =
      path.ok() ? LogReader::Open(*path, FilterOf(request_)) : path.status();
  if (!reader.ok()) {
    FinishOnce(ToGrpcStatus(reader.status()));
    return;
  }
  path_ = *path;
  reader_.emplace(std::move(*reader));
  // Without follow the answer is the log as it is now, even if the container keeps writing.
  if (!request_.follow()) reader_->StopAtCurrentEnd();
  if (request_.has_tail()) {
    if (absl::Status s = reader_->SeekToTailLines(request_.tail()); !s.ok()) {
      FinishOnce(ToGrpcStatus(s));
      return;
    }
  }
  SendNext();
}

void LogsReactor::SendNext() {
  // Read "complete" before reading the file: the runtime marks a container finished only
  // after its monitor closed the log, so an empty read after a complete one is the end.
  const bool complete = runtime_->LogComplete(id_);
  absl::StatusOr<std::vector<LogEntryData>> entries = reader_->ReadMore(kBatchBytes);
  if (!entries.ok()) return FinishOnce(ToGrpcStatus(entries.status()));
  if (!entries->empty()) {
    batch_.Clear();
    for (LogEntryData& entry : *entries) {
      v1::LogEntry* out = batch_.add_entries();
      out->mutable_time()->set_seconds(entry.time_ns / 1'000'000'000);
      out->mutable_time()->set_nanos(static_cast<int32_t>(entry.time_ns % 1'000'000'000));
      out->set_stream(entry.stream == LogStreamId::kStdout ? v1::LOG_STREAM_STDOUT
                                                           : v1::LOG_STREAM_STDERR);
      out->set_setup(entry.setup);
      out->set_data(std::move(entry.data));
    }
    StartWrite(&batch_);
    return;
  }
  if (complete || !request_.follow()) return FinishOnce(grpc::Status::OK);
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    // Held across registration so the callback cannot run before the handle is stored.
    wait_handle_ = runtime_->log_watcher().WaitForChange(path_, [this] {
      {
        absl::MutexLock inner(&mu_);
        if (finished_) return;
        wait_handle_ = 0;
      }
      SendNext();
    });
  }
  // The container may have finished between the LogComplete read above and the
  // registration: its Notify found no waiter then, and no file event follows. Notify again
  // (the waiter runs once either way), or this stream would wait for the fallback timer.
  if (runtime_->LogComplete(id_)) runtime_->log_watcher().Notify(path_);
}

void LogsReactor::OnWriteDone(bool ok) {
  if (!ok) return FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  SendNext();
}

// A cancelled client either has a write in flight (OnWriteDone(false) finishes) or waits
// on the watcher (finish here).
void LogsReactor::OnCancel() {
  uint64_t handle = 0;
  {
    absl::MutexLock lock(&mu_);
    if (finished_ || wait_handle_ == 0) return;
    handle = wait_handle_;
    wait_handle_ = 0;
    finished_ = true;  // a callback already running sees this and returns
  }
  runtime_->log_watcher().Cancel(handle);
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
}

void LogsReactor::FinishOnce(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
  }
  Finish(status);
}

void LogsReactor::OnDone() { delete this; }

}  // namespace quilt
