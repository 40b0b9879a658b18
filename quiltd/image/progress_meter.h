// How far an image import has got, for Images.ImportWithProgress. The importing thread counts
// the bytes it reads and names its phases; a callback gets a reading at each phase change and,
// while bytes flow, at most once per interval. Counting costs an addition and a clock read per
// 64 KiB chunk: no lock, no allocation, nothing per archive entry.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/time/time.h"

namespace quilt {

enum class ImportPhase {
  // Unpacking a file (a rootfs tarball, or an image archive into a temporary directory), or
  // the layers of an image.
  kUnpacking,
  // Making what was unpacked durable (syncfs) before it is published.
  kSyncing,
};

// A pass reads one input once: the file, or all the layer blobs of an image one after the
// other.
struct ProgressReading {
  ImportPhase phase = ImportPhase::kUnpacking;
  // While a layer is unpacked or synced: which one (1 is the bottom one) of how many the
  // image has; 0 and 0 otherwise.
  int layer = 0;
  int layer_count = 0;
  // Bytes of the pass's input read so far and in all (0: unknown). A layer already in the
  // store counts as read when it is skipped.
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;
};

class ProgressMeter {
 public:
  // Called on the importing thread; `phase_change` tells a new phase or pass from a tick of
  // the byte count. Must not block.
  using Report = std::function<void(const ProgressReading& reading, bool phase_change)>;

  // A meter that reports nothing (an import nobody watches).
  ProgressMeter() = default;
  explicit ProgressMeter(Report report, absl::Duration interval = absl::Milliseconds(100));
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // The importing thread's side.
  // Starts a pass over `bytes_total` bytes (0: unknown) in `phase`, on no layer; reports the
  // bytes the previous pass read since its last report first.
  void StartPass(ImportPhase phase, int64_t bytes_total);
  // Moves to `phase` within the pass (on layer `layer` of `layer_count`, or none); reports.
  void SetPhase(ImportPhase phase, int layer = 0, int layer_count = 0);
  // Counts `bytes` more of the pass's input as read and reports when the interval has passed
  // since the last report. Returns false once the import was cancelled: the reader stops.
  bool Advance(int64_t bytes);
  // Reports the bytes counted since the last report, if any.
  void Flush();

  // Any thread: asks the import to stop. Advance returns false from then on.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  const ProgressReading& reading() const { return reading_; }

 private:
  void Emit(bool phase_change, int64_t now_ns);

  Report report_;
  int64_t interval_ns_ = 0;
  ProgressReading reading_;
  int64_t reported_bytes_ = 0;
  int64_t last_report_ns_ = 0;
  std::atomic<bool> cancelled_{false};
};

}  // namespace quilt
