#include "quiltd/image/progress_meter.h"

#include <chrono>
#include <utility>

namespace quilt {
namespace {

// Monotonic: a wall clock stepped back would hold reports up.
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProgressMeter::ProgressMeter(Report report, absl::Duration interval)
    : report_(std::move(report)), interval_ns_(absl::ToInt64Nanoseconds(interval)) {}

void ProgressMeter::StartPass(ImportPhase phase, int64_t bytes_total) {
  Flush();
  reading_ = ProgressReading();
  reading_.phase = phase;
  reading_.bytes_total = bytes_total;
  Emit(/*phase_change=*/true, NowNs());
}

void ProgressMeter::SetPhase(ImportPhase phase, int layer, int layer_count) {
  reading_.phase = phase;
  reading_.layer = layer;
  reading_.layer_count = layer_count;
  Emit(/*phase_change=*/true, NowNs());
}

bool ProgressMeter::Advance(int64_t bytes) {
  reading_.bytes_done += bytes;
  if (report_) {
    const int64_t now = NowNs();
    if (now - last_report_ns_ >= interval_ns_) Emit(/*phase_change=*/false, now);
  }
  return !cancelled();
}

void ProgressMeter::Flush() {
  if (reading_.bytes_done != reported_bytes_) Emit(/*phase_change=*/false, NowNs());
}

void ProgressMeter::Emit(bool phase_change, int64_t now_ns) {
  reported_bytes_ = reading_.bytes_done;
  last_report_ns_ = now_ns;
  if (report_) report_(reading_, phase_change);
}

}  // namespace quilt
