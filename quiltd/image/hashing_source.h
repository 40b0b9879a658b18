// The archive extractor's view of the archive file: the bytes libarchive reads, hashed as
// they are read.
#pragma once

#include <archive.h>
#include <openssl/evp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "quiltd/image/progress_meter.h"

namespace quilt {

// Small enough that one chunk of a decompression bomb cannot inflate far past the limit
// before the next read checks it (zstd inflates 64 KiB to 2 GiB at most, gzip to 64 MiB).
inline constexpr size_t kReadChunkBytes = size_t{64} << 10;

// Feeds libarchive from the file and SHA-256 from the same buffer, so the digest costs no
// second read of the file. Counts each chunk on the meter, if any.
class HashingSource {
 public:
  HashingSource(UniqueFd fd, ProgressMeter* meter);

  absl::Status Init();

  // Bounds the inflated stream: a read that finds the reader's decompressed output past
  // `*allowed` fails with RESOURCE_EXHAUSTED. The caller keeps `*allowed` up to date with
  // what the entries read so far declare, from any thread. A backstop: libarchive reads pax
  // and GNU special headers inside a single call, never showing them as entries; it bounds
  // them itself today.
  void Watch(const std::atomic<int64_t>* allowed) { allowed_ = allowed; }

  // libarchive's read callback: returns the next chunk, 0 at end of file, -1 on error.
  static la_ssize_t Read(struct archive* a, void* client, const void** out);

  // Hashes what libarchive did not need (trailing padding or garbage after the end of the
  // archive): the digest covers the whole file.
  absl::Status Drain();

  absl::StatusOr<std::string> FinishHex();

  // Non-OK when the last failure was the file read or the inflation bound (not the
  // archive's content).
  absl::Status FileError() const;

 private:
  struct DigestFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };

  bool OverInflated(struct archive* a);
  ssize_t ReadChunk();

  UniqueFd fd_;
  std::vector<char> buf_;
  std::unique_ptr<EVP_MD_CTX, DigestFree> md_;
  int read_errno_ = 0;
  ProgressMeter* meter_;
  bool cancelled_ = false;
  const std::atomic<int64_t>* allowed_ = nullptr;
  absl::Status limit_error_;
};

}  // namespace quilt
