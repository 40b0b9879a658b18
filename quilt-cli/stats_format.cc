#include "quilt-cli/stats_format.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quilt-cli/output.h"

namespace quilt::cli {

std::string BinarySize(int64_t bytes) {
  static constexpr std::array<const char*, 5> kUnits = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  if (unit == 0 || value == static_cast<double>(static_cast<int64_t>(value))) {
    return absl::StrCat(static_cast<int64_t>(value), kUnits[unit]);
  }
  return absl::StrFormat("%.2f%s", value, kUnits[unit]);
}

std::optional<double> CpuPercent(const StatsSample& before, const StatsSample& after) {
  const int64_t wall_ns = absl::ToInt64Nanoseconds(after.taken - before.taken);
  const int64_t cpu_ns = after.stats.cpu_usage_ns() - before.stats.cpu_usage_ns();
  if (wall_ns <= 0 || cpu_ns < 0) return std::nullopt;
  return 100.0 * static_cast<double>(cpu_ns) / static_cast<double>(wall_ns);
}

std::vector<std::string> StatsHeader() {
  return {"ID", "MEM USAGE / LIMIT", "MEM PEAK", "CPU %", "PIDS", "OOM"};
}

std::vector<std::string> StatsRow(const StatsSample& sample, std::optional<double> cpu_percent) {
  const quilt::v1::StatsResponse& s = sample.stats;
  const std::string limit = s.memory_limit() > 0 ? BinarySize(s.memory_limit()) : "--";
  return {ShortId(s.id()),
          absl::StrCat(BinarySize(s.memory_current()), " / ", limit),
          s.memory_peak() > 0 ? BinarySize(s.memory_peak()) : "--",
          cpu_percent.has_value() ? absl::StrFormat("%.2f%%", *cpu_percent) : "--",
          absl::StrCat(s.pids_current()),
          absl::StrCat(s.oom_kills())};
}

nlohmann::json StatsJson(const StatsSample& sample, std::optional<double> cpu_percent) {
  // By hand rather than ProtoToJson, which prints int64 fields as strings.
  const quilt::v1::StatsResponse& s = sample.stats;
  nlohmann::json json = {{"id", s.id()},
                         {"memory_current", s.memory_current()},
                         {"memory_peak", s.memory_peak()},
                         {"memory_limit", s.memory_limit()},
                         {"cpu_usage_ns", s.cpu_usage_ns()},
                         {"pids_current", s.pids_current()},
                         {"oom_kills", s.oom_kills()}};
  json["cpu_percent"] = cpu_percent.has_value() ? nlohmann::json(*cpu_percent) : nlohmann::json();
  return json;
}

}  // namespace quilt::cli
