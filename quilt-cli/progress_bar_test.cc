#include "quilt-cli/progress_bar.h"

#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMB = 1'000'000;

ProgressView View(std::string label, int64_t done, int64_t total, std::optional<double> rate) {
  return {.label = std::move(label), .done = done, .total = total, .rate = rate};
}

ProgressView Unpacking(int64_t done, int64_t total, std::optional<double> rate) {
  return View("unpacking layer 2/5", done, total, rate);
}

TEST(RenderProgressLineTest, WideLineHasEverything) {
  const std::string line = RenderProgressLine(Unpacking(45'200'000, 120 * kMB, 25 * kMB), 100);
  EXPECT_EQ(line,
            "unpacking layer 2/5  [==========>                   ]   45.2 / 120.0 MB   37%   "
            "25.0 MB/s  ETA 0:03");
  EXPECT_EQ(line.size(), 99u);  // the bar is at its widest
}

TEST(RenderProgressLineTest, BarIsCappedOnWideTerminals) {
  const std::string line = RenderProgressLine(Unpacking(60 * kMB, 120 * kMB, 10 * kMB), 300);
  EXPECT_THAT(line, HasSubstr("[==============>               ]"));  // 32 columns
  EXPECT_THAT(line, HasSubstr(" 50%"));
  EXPECT_THAT(line, HasSubstr("ETA 0:06"));
}

TEST(RenderProgressLineTest, NeverWiderThanTheTerminal) {
  const ProgressView view = Unpacking(45'200'000, 120 * kMB, 25 * kMB);
  for (int width = 0; width <= 120; ++width) {
    const std::string line = RenderProgressLine(view, width);
    EXPECT_LE(line.size(), static_cast<size_t>(width)) << line;
    EXPECT_EQ(line.find_first_of("\r\n\x1b"), std::string::npos);
  }
}

TEST(RenderProgressLineTest, NarrowTerminalsDropTheLeastUsefulFirst) {
  const ProgressView view = Unpacking(45'200'000, 120 * kMB, 25 * kMB);
  // No room for a bar: all the figures.
  EXPECT_EQ(RenderProgressLine(view, 70),
            "unpacking layer 2/5   45.2 / 120.0 MB   37%   25.0 MB/s  ETA 0:03");
  EXPECT_EQ(RenderProgressLine(view, 60),
            "unpacking layer 2/5   45.2 / 120.0 MB   37%   25.0 MB/s");
  EXPECT_EQ(RenderProgressLine(view, 45), "unpacking layer 2/5   45.2 / 120.0 MB   37%");
  EXPECT_EQ(RenderProgressLine(view, 30), "unpacking layer 2/5   37%");
  EXPECT_EQ(RenderProgressLine(view, 20), "unpacking l...   37%");
  EXPECT_EQ(RenderProgressLine(view, 8), "unpac...");
}

TEST(RenderProgressLineTest, UnknownTotalShowsBytesAndRateOnly) {
  const std::string line = RenderProgressLine(View("unpacking", 3'500'000, 0, 2 * kMB), 100);
  EXPECT_EQ(line, "unpacking  3.5 MB    2.0 MB/s");
  EXPECT_THAT(line, Not(HasSubstr("%")));
  EXPECT_THAT(line, Not(HasSubstr("ETA")));
  EXPECT_EQ(RenderProgressLine(View("unpacking", 3'500'000, 0, 2 * kMB), 18), "unpacking  3.5 MB");
}

TEST(RenderProgressLineTest, ZeroRateShowsUnknownRateAndEta) {
  const std::string line = RenderProgressLine(Unpacking(0, 120 * kMB, 0.0), 100);
  EXPECT_THAT(line, HasSubstr("  0%"));
  EXPECT_THAT(line, HasSubstr("-- MB/s"));
  EXPECT_THAT(line, HasSubstr("ETA --:--"));
  EXPECT_THAT(line, HasSubstr("[                              ]"));
}

TEST(RenderProgressLineTest, NoRateWhileNothingIsRead) {
  const std::string line =
      RenderProgressLine(View("syncing layer 2/5", 120 * kMB, 120 * kMB, std::nullopt), 100);
  EXPECT_THAT(line, HasSubstr("100%"));
  EXPECT_THAT(line, HasSubstr("[==============================]"));
  EXPECT_THAT(line, Not(HasSubstr("MB/s")));
  EXPECT_THAT(line, Not(HasSubstr("ETA")));
}

TEST(RenderProgressLineTest, SmallAndHugeSizes) {
  EXPECT_THAT(RenderProgressLine(View("unpacking", 512, 900, 1.0), 80), HasSubstr("512 / 900 B"));
  EXPECT_THAT(RenderProgressLine(View("unpacking", 0, 3 * kMB * 1000, std::nullopt), 80),
              HasSubstr("0.0 / 3.0 GB"));
  // Done past the total (a file that grew) stays at 100%.
  EXPECT_THAT(RenderProgressLine(View("unpacking", 2 * kMB, kMB, std::nullopt), 80),
              HasSubstr("100%"));
}

TEST(EtaTextTest, Formats) {
  EXPECT_EQ(EtaText(absl::Seconds(0)), "0:00");
  EXPECT_EQ(EtaText(absl::Seconds(6.2)), "0:07");
  EXPECT_EQ(EtaText(absl::Seconds(754)), "12:34");
  EXPECT_EQ(EtaText(absl::Seconds(3723)), "1:02:03");
  EXPECT_EQ(EtaText(absl::Hours(100)), "--:--");
  EXPECT_EQ(EtaText(absl::Seconds(-1)), "--:--");
}

TEST(PhaseLabelTest, NamesPhaseAndLayer) {
  quilt::v1::ImportProgress progress;
  progress.set_phase(quilt::v1::IMPORT_PHASE_SYNCING);
  progress.set_layer(3);
  progress.set_layer_count(4);
  EXPECT_EQ(PhaseLabel(progress), "syncing layer 3/4");
}

TEST(RateEstimateTest, SlidingWindow) {
  RateEstimate rate(absl::Seconds(2));
  const absl::Time t0 = absl::UnixEpoch();
  EXPECT_EQ(rate.BytesPerSecond(), 0);
  rate.Add(t0, 0);
  EXPECT_EQ(rate.BytesPerSecond(), 0);  // one sample
  rate.Add(t0 + absl::Seconds(1), 10 * kMB);
  EXPECT_DOUBLE_EQ(rate.BytesPerSecond(), 10.0 * kMB);
  rate.Add(t0 + absl::Seconds(2), 30 * kMB);
  rate.Add(t0 + absl::Seconds(3), 50 * kMB);
  rate.Add(t0 + absl::Seconds(4), 70 * kMB);
  // Only the last two seconds count: 40 MB in 2 s.
  EXPECT_DOUBLE_EQ(rate.BytesPerSecond(), 20.0 * kMB);
  rate.Reset();
  rate.Add(t0 + absl::Seconds(5), 0);
  EXPECT_EQ(rate.BytesPerSecond(), 0);
  // Samples too close together give no figure.
  rate.Add(t0 + absl::Seconds(5) + absl::Milliseconds(10), kMB);
  EXPECT_EQ(rate.BytesPerSecond(), 0);
}

}  // namespace
}  // namespace quilt::cli
