#include "quiltd/image/hashing_source.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace quilt {

HashingSource::HashingSource(UniqueFd fd, ProgressMeter* meter)
    : fd_(std::move(fd)), buf_(kReadChunkBytes), meter_(meter) {}

absl::Status HashingSource::Init() {
  md_.reset(EVP_MD_CTX_new());
  if (md_ == nullptr || EVP_DigestInit_ex(md_.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("init sha256: openssl failed");
  }
  return absl::OkStatus();
}

la_ssize_t HashingSource::Read(struct archive* a, void* client, const void** out) {
  auto* self = static_cast<HashingSource*>(client);
  if (self->OverInflated(a)) return -1;
  const ssize_t n = self->ReadChunk();
  if (n < 0) {
    archive_set_error(a, self->read_errno_, "%s", "read archive failed");
    return -1;
  }
  *out = self->buf_.data();
  return n;
}

absl::Status HashingSource::Drain() {
  while (true) {
    const ssize_t n = ReadChunk();
    if (n < 0) return FileError();
    if (n == 0) return absl::OkStatus();
  }
}

absl::StatusOr<std::string> HashingSource::FinishHex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(md_.get(), digest, &len) != 1) {
    return absl::InternalError("finish sha256: openssl failed");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

absl::Status HashingSource::FileError() const {
  if (cancelled_) return absl::CancelledError("import cancelled");
  if (!limit_error_.ok()) return limit_error_;
  if (read_errno_ == 0) return absl::OkStatus();
  if (read_errno_ == -1) return absl::InternalError("hash archive: openssl failed");
  return ErrnoStatus(read_errno_, "read archive");
}

bool HashingSource::OverInflated(struct archive* a) {
  if (allowed_ == nullptr) return false;
  const int64_t inflated = archive_filter_bytes(a, 0);
  const int64_t allowed = allowed_->load(std::memory_order_relaxed);
  if (inflated <= allowed) return false;
  limit_error_ = absl::ResourceExhaustedError(absl::StrCat(
      "archive inflates to more than ", allowed, " bytes, far more than its entries declare"));
  archive_set_error(a, ENOSPC, "%s", "archive inflates too far");
  return true;
}

ssize_t HashingSource::ReadChunk() {
  ssize_t n;
  do {
    n = ::read(fd_.get(), buf_.data(), buf_.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    read_errno_ = errno;
    return -1;
  }
  if (n > 0 && EVP_DigestUpdate(md_.get(), buf_.data(), static_cast<size_t>(n)) != 1) {
    read_errno_ = -1;
    return -1;
  }
  if (n > 0 && meter_ != nullptr && !meter_->Advance(n)) {
    cancelled_ = true;
    return -1;
  }
  return n;
}

}  // namespace quilt
