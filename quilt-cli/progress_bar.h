// The one-line progress display of `quilt-cli image import` on a terminal: a pure renderer,
// the rate estimate behind it, and the terminal side (redraw, clear).
//
//   unpacking layer 2/5  [=========>           ]  45.2 / 120.0 MB   37%  85.3 MB/s  ETA 0:01
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// What the line shows.
struct ProgressView {
  std::string label;  // the phase: "hashing", "unpacking layer 2/5", ...
  int64_t done = 0;   // bytes
  int64_t total = 0;  // bytes; 0 when unknown (no bar, percent or ETA then)
  // Bytes per second: nullopt hides the rate and the ETA (nothing is being read); 0 or less
  // shows them as unknown ("-- MB/s", "ETA --:--").
  std::optional<double> rate;
};

// The line for `view`, at most `width` columns (ASCII only, so bytes are columns; never a
// newline or control character). What does not fit goes, least useful first: the bar, the
// ETA, the rate, the byte counts; then the label is cut. Pure.
std::string RenderProgressLine(const ProgressView& view, int width);

// Bytes in one unit chosen from `scale` (its magnitude): "45.2 MB", "812 kB", "1.20 GB".
std::string ProgressBytes(int64_t bytes, int64_t scale);

// "0:07", "12:34", "1:02:03"; "--:--" for a negative or absurd (100 hours or more) duration.
std::string EtaText(absl::Duration eta);

// The phase of a progress message as the line's label: "unpacking",
// "unpacking layer 2/5", "syncing", "syncing layer 2/5" ("importing" for an unknown one).
std::string PhaseLabel(const quilt::v1::ImportProgress& progress);

// Bytes per second over the last `window` of samples, restarted by a new pass.
class RateEstimate {
 public:
  explicit RateEstimate(absl::Duration window = absl::Seconds(3)) : window_(window) {}
  // Forgets every sample (a new pass reads a new input).
  void Reset() { samples_.clear(); }
  void Add(absl::Time at, int64_t bytes);
  // 0 until two samples some time apart are known.
  double BytesPerSecond() const;

 private:
  struct Sample {
    absl::Time at;
    int64_t bytes;
  };
  absl::Duration window_;
  std::deque<Sample> samples_;
};

// The import's progress on the terminal on stderr: turns messages into redraws of one line.
class ImportProgressLine {
 public:
  // `fd` is the terminal to draw on.
  explicit ImportProgressLine(int fd) : fd_(fd) {}
  // Clears the line if it is still shown.
  ~ImportProgressLine() { Clear(); }
  ImportProgressLine(const ImportProgressLine&) = delete;
  ImportProgressLine& operator=(const ImportProgressLine&) = delete;

  // Redraws the line for `progress`, received at `now`.
  void Update(const quilt::v1::ImportProgress& progress, absl::Time now);
  // Erases the line, leaving the cursor at the start of the (now empty) line.
  void Clear();

 private:
  int Columns() const;

  int fd_;
  RateEstimate rate_;
  int64_t last_done_ = -1;
  int64_t last_total_ = -1;
  bool shown_ = false;
};

}  // namespace quilt::cli
