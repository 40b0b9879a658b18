#include "quilt-cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace quilt::cli {
namespace {

constexpr size_t kColumnGap = 3;

std::string Plural(int64_t count, absl::string_view unit) {
  return absl::StrCat(count, " ", unit, count == 1 ? "" : "s");
}

bool NeedsQuoting(absl::string_view word) {
  if (word.empty()) return true;
  return std::any_of(word.begin(), word.end(), [](char c) {
    return !(absl::ascii_isalnum(c) ||
             absl::string_view("-_./=:,+@%").find(c) != absl::string_view::npos);
  });
}

std::string ShellQuote(absl::string_view word) {
  if (!NeedsQuoting(word)) return std::string(word);
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

}  // namespace

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::AddRow(std::vector<std::string> row) {
  row.resize(rows_.front().size());
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(rows_.front().size(), 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + kColumnGap, ' ');
    }
    // Trailing spaces appear when the last columns are empty.
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  }
}

std::string ShortId(absl::string_view id, size_t length) {
  return std::string(id.substr(0, length));
}

std::string ShortDigest(absl::string_view digest) { return std::string(digest.substr(0, 19)); }

std::string HumanDuration(absl::Duration duration) {
  int64_t seconds = absl::ToInt64Seconds(duration);
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return Plural(seconds, "second");
  int64_t minutes = absl::ToInt64Minutes(duration);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return Plural(minutes, "minute");
  int64_t hours = absl::ToInt64Hours(duration);
  if (hours == 1) return "About an hour";
  if (hours < 48) return Plural(hours, "hour");
  if (hours < 24 * 7 * 2) return Plural(hours / 24, "day");
  if (hours < 24 * 30 * 2) return Plural(hours / 24 / 7, "week");
  if (hours < 24 * 365 * 2) return Plural(hours / 24 / 30, "month");
  return Plural(hours / 24 / 365, "year");
}

std::string HumanSize(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(kUnits)) {
    value /= 1000;
    ++unit;
  }
  return absl::StrFormat("%.3g%s", value, kUnits[unit]);
}

std::string StateName(quilt::v1::ContainerState state) {
  switch (state) {
    case quilt::v1::CONTAINER_STATE_CREATED:
      return "created";
    case quilt::v1::CONTAINER_STATE_RUNNING:
      return "running";
    case quilt::v1::CONTAINER_STATE_EXITED:
      return "exited";
    case quilt::v1::CONTAINER_STATE_FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

std::string StatusText(const quilt::v1::Container& container, absl::Time now) {
  switch (container.state()) {
    case quilt::v1::CONTAINER_STATE_CREATED:
      return "Created";
    case quilt::v1::CONTAINER_STATE_RUNNING:
      return absl::StrCat("Up ", HumanDuration(now - ToTime(container.started_at())));
    case quilt::v1::CONTAINER_STATE_EXITED:
      return absl::StrCat("Exited (", container.exit_code(), ") ",
                          HumanDuration(now - ToTime(container.finished_at())), " ago");
    case quilt::v1::CONTAINER_STATE_FAILED: {
      std::string text = absl::StrCat("Failed (", container.reason(), ")");
      if (!container.has_finished_at()) return text;
      return absl::StrCat(text, " ", HumanDuration(now - ToTime(container.finished_at())), " ago");
    }
    default:
      return "Unknown";
  }
}

std::string CommandText(const google::protobuf::RepeatedPtrField<std::string>& argv) {
  return absl::StrJoin(
      argv, " ", [](std::string* out, const std::string& word) { out->append(ShellQuote(word)); });
}

std::string Truncate(absl::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  if (max <= 3) return std::string(text.substr(0, max));
  return absl::StrCat(text.substr(0, max - 3), "...");
}

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  if (timestamp.seconds() == 0 && timestamp.nanos() == 0) return absl::InfinitePast();
  return absl::FromUnixSeconds(timestamp.seconds()) + absl::Nanoseconds(timestamp.nanos());
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  absl::Time time = ToTime(timestamp);
  if (time == absl::InfinitePast()) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

nlohmann::json ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  // Printing a well-formed in-memory message cannot fail; an empty object is the fallback.
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) {
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

void PrintJson(std::ostream& out, const nlohmann::json& json) { out << json.dump(2) << '\n'; }

absl::Status WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(absl::StrCat("write fd ", fd));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string PrefixLines(absl::string_view data, absl::string_view prefix, bool* at_line_start) {
  std::string out;
  out.reserve(data.size() + prefix.size());
  for (char c : data) {
    if (*at_line_start) out.append(prefix.data(), prefix.size());
    out += c;
    *at_line_start = (c == '\n');
  }
  return out;
}

}  // namespace quilt::cli
