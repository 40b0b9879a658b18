#include "quiltd/image/inflater.h"

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"

namespace quilt {

Inflater::~Inflater() {
  if (thread_.joinable()) Finish(false).IgnoreError();
}

absl::Status Inflater::Start() {
  reader_.reset(archive_read_new());
  if (reader_ == nullptr)
    return absl::ResourceExhaustedError("create archive reader: out of memory");
  // Filters listed one by one so that no external decompressor program is ever spawned. A
  // filter whose library is missing returns ARCHIVE_WARN; the reader still works for the
  // others. "raw" hands out the decompressed stream as it is.
  struct archive* a = reader_.get();
  archive_read_support_filter_gzip(a);
  archive_read_support_filter_xz(a);
  archive_read_support_filter_lzma(a);
  archive_read_support_filter_zstd(a);
  archive_read_support_filter_bzip2(a);
  archive_read_support_format_raw(a);
  source_->Watch(&allowed_);
  struct archive_entry* entry = nullptr;
  if (archive_read_open(a, source_, nullptr, &HashingSource::Read, nullptr) != ARCHIVE_OK ||
      archive_read_next_header(a, &entry) != ARCHIVE_OK) {
    if (absl::Status file = source_->FileError(); !file.ok()) return file;
    const char* msg = archive_error_string(a);
    return absl::InvalidArgumentError(
        absl::StrCat("read archive: ", msg == nullptr ? "unreadable archive" : msg));
  }
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < kQueuedChunks; ++i)
      free_.push_back(Chunk{std::vector<char>(kReadChunkBytes)});
  }
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

bool Inflater::TakeFree(Chunk* chunk) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](Inflater* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->stopped_ || !self->free_.empty();
      },
      this));
  if (stopped_) return false;
  *chunk = std::move(free_.back());
  free_.pop_back();
  return true;
}

void Inflater::Run() {
  Chunk chunk;
  while (TakeFree(&chunk)) {
    const la_ssize_t n = archive_read_data(reader_.get(), chunk.bytes.data(), chunk.bytes.size());
    // libarchive may take a failed read for a short one and carry on with what it has.
    absl::Status file = source_->FileError();
    absl::MutexLock lock(&mu_);
    if (n < 0 || !file.ok()) {
      file_error_ = std::move(file);
      const char* msg = n < 0 ? archive_error_string(reader_.get()) : nullptr;
      stream_error_ = msg == nullptr ? "read archive failed" : msg;
    }
    if (n <= 0 || !stream_error_.empty()) {
      free_.push_back(std::move(chunk));
      break;
    }
    chunk.size = static_cast<size_t>(n);
    full_.push_back(std::move(chunk));
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
  // The digest covers the whole file, but the stream past the archive's end is not
  // inflated (a bomb may hide there).
  mu_.Await(absl::Condition(&stopped_));
  if (hash_rest_ && file_error_.ok() && stream_error_.empty()) {
    mu_.Unlock();
    const absl::Status drained = source_->Drain();
    mu_.Lock();
    file_error_ = drained;
  }
}

la_ssize_t Inflater::Read(struct archive* a, void* client, const void** out) {
  auto* self = static_cast<Inflater*>(client);
  absl::MutexLock lock(&self->mu_);
  if (!self->current_.bytes.empty()) self->free_.push_back(std::move(self->current_));
  self->mu_.Await(absl::Condition(
      +[](Inflater* inflater) ABSL_EXCLUSIVE_LOCKS_REQUIRED(inflater->mu_) {
        return inflater->ended_ || !inflater->full_.empty();
      },
      self));
  if (!self->full_.empty()) {
    self->current_ = std::move(self->full_.front());
    self->full_.pop_front();
    *out = self->current_.bytes.data();
    return static_cast<la_ssize_t>(self->current_.size);
  }
  if (self->stream_error_.empty()) return 0;
  archive_set_error(a, self->file_error_.ok() ? EINVAL : EIO, "%s", self->stream_error_.c_str());
  return -1;
}

absl::Status Inflater::FileError() const {
  absl::MutexLock lock(&mu_);
  return file_error_;
}

absl::Status Inflater::Finish(bool hash_rest) {
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    hash_rest_ = hash_rest;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  return file_error_;
}

}  // namespace quilt
