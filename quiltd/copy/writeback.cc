#include "quiltd/copy/writeback.h"

#include <fcntl.h>

#include <utility>

namespace quilt {
namespace {

void StartWriting(const UniqueFd& file) {
  // A failure shows again, as an error, at the caller's sync.
  ::sync_file_range(file.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
}

}  // namespace

Writeback::~Writeback() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Writeback::Start(UniqueFd file) {
  {
    absl::MutexLock lock(&mu_);
    if (queue_.size() < kMaxQueued) {
      queue_.push_back(std::move(file));
      if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
      return;
    }
  }
  StartWriting(file);
}

void Writeback::Run() {
  for (;;) {
    UniqueFd file;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Writeback* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (stopping_) return;
      file = std::move(queue_.front());
      queue_.pop_front();
    }
    StartWriting(file);
  }
}

}  // namespace quilt
