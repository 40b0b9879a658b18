// Hands written files to the disk early, on a thread of its own: a sync at the end of an
// unpack then finds the data written already, instead of starting all of it (the syncfs
// after unpacking 100 MB of files took 60-75 ms; 4-5 ms with this, the unpack ~20 ms more).
#pragma once

#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/unique_fd.h"

namespace quilt {

class Writeback {
 public:
  Writeback() = default;
  Writeback(const Writeback&) = delete;
  Writeback& operator=(const Writeback&) = delete;
  // Stops the thread. Files it did not get to are left for the caller's sync.
  ~Writeback();

  // Starts writing `file`'s dirty pages (sync_file_range(SYNC_FILE_RANGE_WRITE)) without
  // waiting for them. Takes the descriptor, which may be a dup of one the caller closes.
  void Start(UniqueFd file) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Past this many queued files the caller starts its own: open descriptors stay bounded.
  static constexpr size_t kMaxQueued = 256;

  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<UniqueFd> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace quilt
