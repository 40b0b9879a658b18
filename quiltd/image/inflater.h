// Reads an archive file on a thread of its own. There the file's bytes are hashed and
// decompressed (gzip, xz, lzma, zstd, bzip2; a plain tar passes through), and the tar stream
// comes out of Read, a libarchive read callback for the extracting thread. Inflating and
// writing files then run on two cores, and a plain tar's hashing costs the extracting thread
// nothing. The thread never runs more than kQueuedChunks chunks ahead of the extraction, so
// the inflation bound (HashingSource::Watch) still stops a decompression bomb early.
#pragma once

#include <archive.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "quiltd/image/hashing_source.h"

namespace quilt {

class Inflater {
 public:
  // `source` must outlive the Inflater; its thread alone uses it until Finish returns.
  explicit Inflater(HashingSource* source) : source_(source) {}
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  ~Inflater();

  // Opens the decompressor on the file and starts the thread. INVALID_ARGUMENT when the
  // file is no stream libarchive can read; the source's own failures keep their code.
  absl::Status Start();

  // libarchive's read callback for the extracting reader: the next chunk of the tar stream,
  // 0 at its end, -1 when the thread failed (the error then is Error(), or libarchive's
  // message for a corrupt stream).
  static la_ssize_t Read(struct archive* a, void* client, const void** out);

  // Sets the inflation bound the thread checks at every read of the file.
  void Allow(int64_t bytes) { allowed_.store(bytes, std::memory_order_relaxed); }

  // The thread's failure reading the file (a read error, the inflation bound, a cancelled
  // import), OK otherwise.
  absl::Status FileError() const;

  // The extraction needs no more of the stream: the thread stops inflating; with
  // `hash_rest`, it first reads the rest of the file into the digest. Returns the thread's
  // failure reading the file, if any; the source is the caller's again.
  absl::Status Finish(bool hash_rest);

 private:
  struct ReaderFree {
    void operator()(struct archive* a) const { archive_read_free(a); }
  };
  struct Chunk {
    std::vector<char> bytes;
    size_t size = 0;
  };
  static constexpr size_t kQueuedChunks = 8;

  void Run();
  // Takes a chunk to fill; false once the extraction stopped.
  bool TakeFree(Chunk* chunk);
  void Stop(bool hash_rest);

  HashingSource* source_;
  std::unique_ptr<struct archive, ReaderFree> reader_;
  std::atomic<int64_t> allowed_{0};
  std::thread thread_;
  Chunk current_;  // the chunk the extracting reader holds

  mutable absl::Mutex mu_;
  std::deque<Chunk> full_ ABSL_GUARDED_BY(mu_);
  std::vector<Chunk> free_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;    // the thread produces no more chunks
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;  // the extraction wants no more
  bool hash_rest_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status file_error_ ABSL_GUARDED_BY(mu_);
  std::string stream_error_ ABSL_GUARDED_BY(mu_);  // libarchive's message for a corrupt stream
};

}  // namespace quilt
