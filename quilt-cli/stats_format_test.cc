#include "quilt-cli/stats_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt::cli {
namespace {

StatsSample Sample(int64_t cpu_ns, absl::Time taken) {
  StatsSample sample;
  sample.stats.set_id("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  sample.stats.set_cpu_usage_ns(cpu_ns);
  sample.taken = taken;
  return sample;
}

TEST(BinarySizeTest, UsesBinaryUnits) {
  EXPECT_EQ(BinarySize(0), "0B");
  EXPECT_EQ(BinarySize(1023), "1023B");
  EXPECT_EQ(BinarySize(1536), "1.50KiB");
  EXPECT_EQ(BinarySize(64 << 20), "64MiB");
  EXPECT_EQ(BinarySize(int64_t{9} << 29), "4.50GiB");
}

TEST(CpuPercentTest, IsCpuTimeOverWallTime) {
  const absl::Time t0 = absl::FromUnixSeconds(100);
  // Half a CPU second in one second: 50%; two CPU seconds in one second: 200%.
  EXPECT_DOUBLE_EQ(*CpuPercent(Sample(1'000, t0), Sample(500'001'000, t0 + absl::Seconds(1))),
                   50.0);
  EXPECT_DOUBLE_EQ(*CpuPercent(Sample(0, t0), Sample(2'000'000'000, t0 + absl::Seconds(1))), 200.0);
}

TEST(CpuPercentTest, UnknownWithoutElapsedTimeOrWhenTheCounterGoesBack) {
  const absl::Time t0 = absl::FromUnixSeconds(100);
  EXPECT_FALSE(CpuPercent(Sample(0, t0), Sample(10, t0)).has_value());
  EXPECT_FALSE(CpuPercent(Sample(10, t0), Sample(5, t0 + absl::Seconds(1))).has_value());
}

TEST(StatsRowTest, FormatsEveryColumn) {
  StatsSample sample = Sample(0, absl::FromUnixSeconds(1));
  sample.stats.set_memory_current(3 << 20);
  sample.stats.set_memory_limit(64 << 20);
  sample.stats.set_memory_peak(int64_t{5} << 19);
  sample.stats.set_pids_current(4);
  sample.stats.set_oom_kills(1);
  EXPECT_THAT(StatsRow(sample, 12.345), ::testing::ElementsAre("0123456789ab", "3MiB / 64MiB",
                                                               "2.50MiB", "12.35%", "4", "1"));
  EXPECT_EQ(StatsRow(sample, 0).size(), StatsHeader().size());
}

TEST(StatsRowTest, DashesForUnknownValues) {
  StatsSample sample = Sample(0, absl::FromUnixSeconds(1));
  sample.stats.set_memory_current(1024);
  EXPECT_THAT(StatsRow(sample, std::nullopt),
              ::testing::ElementsAre("0123456789ab", "1KiB / --", "--", "--", "0", "0"));
}

TEST(StatsJsonTest, NumbersStayNumbers) {
  StatsSample sample = Sample(42, absl::FromUnixSeconds(1));
  sample.stats.set_memory_limit(64 << 20);
  nlohmann::json json = StatsJson(sample, 7.5);
  EXPECT_EQ(json["cpu_usage_ns"], 42);
  EXPECT_EQ(json["memory_limit"], 64 << 20);
  EXPECT_EQ(json["cpu_percent"], 7.5);
  EXPECT_TRUE(StatsJson(sample, std::nullopt)["cpu_percent"].is_null());
}

}  // namespace
}  // namespace quilt::cli
