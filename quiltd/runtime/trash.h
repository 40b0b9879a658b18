// Deletes directory trees off the request path. Discard renames a tree into <state>/trash
// (one metadata operation, so the tree leaves its place at once and atomically) and a
// background thread deletes it. Deleting is slow on the hosts Quilt runs on: with ext4's
// online discard every freed block costs milliseconds (an rmdir about 3 ms here), which
// made deleting the bundle most of the time a Remove took. A crash leaves only trash,
// which the next Open deletes.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/thread_pool.h"

namespace quilt {

class Trash {
 public:
  // Creates `dir` if needed (it must be on the filesystem of the trees to discard) and
  // schedules the deletion of whatever an earlier run left in it.
  static absl::StatusOr<std::unique_ptr<Trash>> Open(const std::string& dir);

  // Moves `path` into the trash and schedules its deletion. On failure `path` is untouched.
  absl::Status Discard(const std::string& path);

  // Blocks until every tree discarded so far is deleted.
  void Drain();

 private:
  explicit Trash(std::string dir) : dir_(std::move(dir)) {}
  void DeleteLater(const std::string& path);

  const std::string dir_;
  std::atomic<uint64_t> next_ = 0;
  // One thread: deletions are disk-bound, more threads would only contend. Declared last so
  // its destructor (which finishes the queued deletions) runs first.
  ThreadPool deleter_{1};
};

}  // namespace quilt
