// Formatting of `quilt-cli stats`: binary sizes, CPU % from two samples, and the table row.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// One Stats answer and when it was taken.
struct StatsSample {
  quilt::v1::StatsResponse stats;
  absl::Time taken;
};

// Binary size with two decimals, as docker stats prints memory: "0B", "512B", "1.50KiB",
// "64MiB" (whole numbers without decimals), "2.25GiB".
std::string BinarySize(int64_t bytes);

// CPU use between two samples of one container, in percent of one CPU (200 means two full
// CPUs); nullopt when the samples cannot be compared (no time passed, counter went back).
std::optional<double> CpuPercent(const StatsSample& before, const StatsSample& after);

// The table header and one row: ID, MEM USAGE / LIMIT ("--" for no limit), MEM PEAK ("--"
// when unknown), CPU % ("--" without a previous sample), PIDS, OOM.
std::vector<std::string> StatsHeader();
std::vector<std::string> StatsRow(const StatsSample& sample, std::optional<double> cpu_percent);

// The sample as JSON: the StatsResponse fields as numbers plus "cpu_percent" (null when
// unknown).
nlohmann::json StatsJson(const StatsSample& sample, std::optional<double> cpu_percent);

}  // namespace quilt::cli
