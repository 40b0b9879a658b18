#include "quiltd/service/copy_reactors.h"

#include <utility>

#include "common/status_macros.h"
#include "quiltd/copy/copy_in.h"
#include "quiltd/copy/tar_writer.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// OnDone may run on the copy's own thread (inside its Finish): it cannot join itself.
void JoinOrDetach(std::thread& thread) {
  if (!thread.joinable()) return;
  if (thread.get_id() == std::this_thread::get_id()) {
    thread.detach();
  } else {
    thread.join();
  }
}

}  // namespace

CopyToReactor::CopyToReactor(Runtime* runtime, v1::CopyToResponse* response)
    : runtime_(runtime), response_(response) {
  StartRead(&request_);
}

void CopyToReactor::OnReadDone(bool ok) {
  bool never_started = false;
  absl::Status refused_first;
  {
    absl::MutexLock lock(&mu_);
    if (!ok) {
      end_ = true;
      never_started = !started_;
    } else if (!request_.status.ok()) {
      // Refused before the copy began, the call ends here; later, NextChunk returns it.
      if (started_) {
        refused_ = request_.status;
      } else {
        refused_first = request_.status;
      }
    } else {
      chunk_ = std::move(*request_.message.mutable_data());
      has_chunk_ = true;
      if (!started_) {
        started_ = true;
        v1::CopyToRequest header = request_.message;
        thread_ =
            std::thread([this, header = std::move(header)]() mutable { Run(std::move(header)); });
      }
    }
  }
  // Outside the lock: OnDone, which deletes this reactor, may follow Finish at once.
  if (never_started) {
    Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "ref: the stream ended before its first message"));
  }
  if (!refused_first.ok()) Finish(ToGrpcStatus(refused_first));
}

absl::Status CopyToReactor::NextChunk(std::string* chunk) {
  chunk->clear();
  while (chunk->empty()) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](CopyToReactor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->has_chunk_ || self->end_ || self->cancelled_ || !self->refused_.ok();
          },
          this));
      if (cancelled_) return absl::CancelledError("copy: the client cancelled");
      if (!refused_.ok()) return refused_;
      if (!has_chunk_) return absl::OkStatus();  // the end: an empty chunk
      *chunk = std::move(chunk_);
      has_chunk_ = false;
    }
    // request_ is free again: ask for the next message only now, so at most one is held.
    StartRead(&request_);
  }
  return absl::OkStatus();
}

void CopyToReactor::Run(v1::CopyToRequest header) {
  absl::Status status = ValidateCopyToRequest(header);
  absl::StatusOr<std::string> landed;
  if (status.ok()) {
    absl::StatusOr<CopyRoot> root = runtime_->OpenCopyRoot(header.ref(), /*write=*/true);
    if (root.ok()) {
      landed = CopyIntoRoot(root->fd.get(), header.path(), header.source_name(),
                            [this](std::string* chunk) { return NextChunk(chunk); });
      status = landed.status();
    } else {
      status = root.status();
    }
  }
  if (status.ok()) response_->set_path(*landed);
  Finish(ToGrpcStatus(status));
}

void CopyToReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

void CopyToReactor::OnDone() {
  JoinOrDetach(thread_);
  delete this;
}

CopyFromReactor::CopyFromReactor(Runtime* runtime, v1::CopyFromRequest request)
    : runtime_(runtime), request_(std::move(request)) {
  thread_ = std::thread([this] { Run(); });
}

void CopyFromReactor::Run() { Finish(ToGrpcStatus(Copy())); }

absl::Status CopyFromReactor::Copy() {
  QUILT_RETURN_IF_ERROR(ValidateCopyFromRequest(request_));
  QUILT_ASSIGN_OR_RETURN(CopyRoot root, runtime_->OpenCopyRoot(request_.ref(), /*write=*/false));
  QUILT_ASSIGN_OR_RETURN(TarSource source, OpenTarSource(root.fd.get(), request_.path()));
  v1::CopyFromResponse stat;
  stat.mutable_stat()->set_name(source.name);
  stat.mutable_stat()->set_mode(source.st.st_mode);
  stat.mutable_stat()->set_size(source.st.st_size);
  stat.mutable_stat()->set_link_target(source.link_target);
  QUILT_RETURN_IF_ERROR(Send(std::move(stat)));
  QUILT_RETURN_IF_ERROR(
      WriteTar(source, [this](absl::string_view bytes) { return Buffer(bytes); }));
  if (pending_.empty()) return absl::OkStatus();
  v1::CopyFromResponse last;
  last.set_data(std::move(pending_));
  return Send(std::move(last));
}

absl::Status CopyFromReactor::Buffer(absl::string_view bytes) {
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), kChunkBytes - pending_.size());
    pending_.append(bytes.data(), n);
    bytes.remove_prefix(n);
    if (pending_.size() == kChunkBytes) {
      v1::CopyFromResponse response;
      response.set_data(std::move(pending_));
      pending_.clear();
      QUILT_RETURN_IF_ERROR(Send(std::move(response)));
    }
  }
  return absl::OkStatus();
}

absl::Status CopyFromReactor::Send(v1::CopyFromResponse response) {
  {
    absl::MutexLock lock(&mu_);
    if (broken_) return absl::CancelledError("copy: the client went away");
    writing_ = true;
  }
  response_ = std::move(response);
  StartWrite(&response_);
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](bool* writing) { return !*writing; }, &writing_));
  if (broken_) return absl::CancelledError("copy: the client went away");
  return absl::OkStatus();
}

void CopyFromReactor::OnWriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) broken_ = true;
}

void CopyFromReactor::OnCancel() {
  absl::MutexLock lock(&mu_);
  broken_ = true;
}

void CopyFromReactor::OnDone() {
  JoinOrDetach(thread_);
  delete this;
}

}  // namespace quilt
