#include "quilt-cli/progress_bar.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

// A bar narrower than this says too little to be worth its room; a wider one only stretches.
constexpr int kMinBarColumns = 12;
constexpr int kMaxBarColumns = 32;
constexpr absl::string_view kSeparator = "  ";

struct Unit {
  double divisor;
  const char* name;
};

// Decimal units, as HumanSize and `docker` print sizes.
Unit UnitFor(int64_t scale) {
  if (scale >= 1'000'000'000'000) return {1e12, "TB"};
  if (scale >= 1'000'000'000) return {1e9, "GB"};
  if (scale >= 1'000'000) return {1e6, "MB"};
  if (scale >= 1'000) return {1e3, "kB"};
  return {1, "B"};
}

std::string Number(int64_t bytes, const Unit& unit) {
  if (unit.divisor == 1) return absl::StrCat(bytes);
  return absl::StrFormat("%.1f", static_cast<double>(bytes) / unit.divisor);
}

// "[=====>      ]", `columns` wide with the brackets.
std::string Bar(int64_t done, int64_t total, int columns) {
  const int inner = columns - 2;
  const int filled = static_cast<int>(
      std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) * inner);
  std::string bar(inner, ' ');
  std::fill_n(bar.begin(), filled, '=');
  if (filled > 0 && filled < inner) bar[filled - 1] = '>';
  return absl::StrCat("[", bar, "]");
}

// The fields after the label and bar, least useful last: bytes, percent, rate, ETA.
struct Fields {
  std::string bytes;
  std::string percent;
  std::string rate;
  std::string eta;
};

Fields MakeFields(const ProgressView& view) {
  Fields fields;
  const bool known = view.total > 0;
  if (known) {
    const Unit unit = UnitFor(view.total);
    const std::string total = Number(view.total, unit);
    // The done count padded to the total's width, so the line does not shift as it grows.
    fields.bytes = absl::StrFormat("%*s / %s %s", static_cast<int>(total.size()),
                                   Number(std::min(view.done, view.total), unit), total, unit.name);
    const int64_t percent = std::clamp<int64_t>(view.done * 100 / view.total, 0, 100);
    fields.percent = absl::StrFormat("%3d%%", percent);
  } else {
    fields.bytes = ProgressBytes(view.done, view.done);
  }
  if (view.rate.has_value()) {
    const double rate = *view.rate;
    fields.rate = rate > 0 ? absl::StrFormat("%5.1f MB/s", rate / 1e6) : "-- MB/s";
    if (known) {
      const int64_t left = view.total - std::min(view.done, view.total);
      const std::string eta =
          rate > 0 ? EtaText(absl::Seconds(static_cast<double>(left) / rate)) : "--:--";
      fields.eta = absl::StrCat("ETA ", eta);
    }
  }
  return fields;
}

std::string Join(const std::vector<std::string>& parts) {
  std::vector<std::string> present;
  for (const std::string& part : parts) {
    if (!part.empty()) present.push_back(part);
  }
  return absl::StrJoin(present, kSeparator);
}

}  // namespace

std::string ProgressBytes(int64_t bytes, int64_t scale) {
  const Unit unit = UnitFor(scale);
  return absl::StrCat(Number(bytes, unit), " ", unit.name);
}

std::string EtaText(absl::Duration eta) {
  if (eta < absl::ZeroDuration() || eta >= absl::Hours(100)) return "--:--";
  const int64_t seconds = static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(eta)));
  const int64_t h = seconds / 3600;
  const int64_t m = seconds % 3600 / 60;
  const int64_t s = seconds % 60;
  if (h > 0) return absl::StrFormat("%d:%02d:%02d", h, m, s);
  return absl::StrFormat("%d:%02d", m, s);
}

std::string RenderProgressLine(const ProgressView& view, int width) {
  if (width <= 0) return "";
  const size_t max = static_cast<size_t>(width);
  Fields f = MakeFields(view);
  // Everything, with as wide a bar as fits (when the total is known).
  if (view.total > 0) {
    const std::string rest = Join({f.bytes, f.percent, f.rate, f.eta});
    const int room =
        width - static_cast<int>(view.label.size() + rest.size() + 2 * kSeparator.size());
    if (room >= kMinBarColumns) {
      return Join({view.label, Bar(view.done, view.total, std::min(room, kMaxBarColumns)), rest});
    }
  }
  // Then without the bar, dropping the least useful field until the line fits.
  for (std::string* drop : {&f.eta, &f.rate, &f.bytes}) {
    std::string line = Join({view.label, f.bytes, f.percent, f.rate, f.eta});
    if (line.size() <= max) return line;
    drop->clear();
  }
  // The label and the percent (or the bytes when the total is unknown): cut the label.
  const std::string& figure = view.total > 0 ? f.percent : ProgressBytes(view.done, view.done);
  const size_t keep = figure.size() + kSeparator.size();
  if (keep + 4 > max) return Truncate(Join({view.label, figure}), max);
  return Join({Truncate(view.label, max - keep), figure});
}

std::string PhaseLabel(const quilt::v1::ImportProgress& progress) {
  std::string label;
  switch (progress.phase()) {
    case quilt::v1::IMPORT_PHASE_UNPACKING:
      label = "unpacking";
      break;
    case quilt::v1::IMPORT_PHASE_SYNCING:
      label = "syncing";
      break;
    default:
      label = "importing";
      break;
  }
  if (progress.layer() > 0) {
    absl::StrAppend(&label, " layer ", progress.layer(), "/", progress.layer_count());
  }
  return label;
}

void RateEstimate::Add(absl::Time at, int64_t bytes) {
  samples_.push_back({at, bytes});
  // Keeps one sample at or before the window's start, so the estimate spans the whole window.
  while (samples_.size() > 2 && samples_[1].at <= at - window_) samples_.pop_front();
}

double RateEstimate::BytesPerSecond() const {
  if (samples_.size() < 2) return 0;
  const double seconds = absl::ToDoubleSeconds(samples_.back().at - samples_.front().at);
  const int64_t bytes = samples_.back().bytes - samples_.front().bytes;
  // Two samples a hair apart would give a wild figure.
  if (seconds < 0.05 || bytes < 0) return 0;
  return static_cast<double>(bytes) / seconds;
}

void ImportProgressLine::Update(const quilt::v1::ImportProgress& progress, absl::Time now) {
  // A new pass reads a new input from 0: the rate of the old one says nothing about it.
  if (progress.bytes_done() < last_done_ || progress.bytes_total() != last_total_) rate_.Reset();
  last_done_ = progress.bytes_done();
  last_total_ = progress.bytes_total();
  rate_.Add(now, progress.bytes_done());
  ProgressView view{.label = PhaseLabel(progress),
                    .done = progress.bytes_done(),
                    .total = progress.bytes_total(),
                    .rate = std::nullopt};
  // Syncing reads nothing: a rate and an ETA would only mislead.
  if (progress.phase() != quilt::v1::IMPORT_PHASE_SYNCING) view.rate = rate_.BytesPerSecond();
  // One column spare: writing the last column makes some terminals wrap at the next byte.
  const std::string line = absl::StrCat("\r", RenderProgressLine(view, Columns() - 1), "\x1b[K");
  shown_ = WriteAll(fd_, line).ok();
}

void ImportProgressLine::Clear() {
  if (!shown_) return;
  shown_ = false;
  WriteAll(fd_, "\r\x1b[K").IgnoreError();
}

int ImportProgressLine::Columns() const {
  struct winsize size = {};
  if (::ioctl(fd_, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

}  // namespace quilt::cli
