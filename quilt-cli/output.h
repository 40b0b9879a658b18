// Formatting shared by quilt-cli commands: tables, ages, sizes, states and JSON.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "nlohmann/json.hpp"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// A plain text table: columns left-aligned, separated by three spaces, last column unpadded.
class Table {
 public:
  explicit Table(std::vector<std::string> header);

  // Adds one row; missing cells print empty, extra cells are dropped.
  void AddRow(std::vector<std::string> row);

  // Writes the header and the rows, one line each.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The first `length` characters of an id.
std::string ShortId(absl::string_view id, size_t length = 12);

// "sha256:" and the first 12 hex digits of an image digest (19 characters).
std::string ShortDigest(absl::string_view digest);

// Docker-style rough duration: "Less than a second", "5 seconds", "About a minute",
// "3 minutes", "About an hour", "2 hours", "3 days", "2 weeks", "4 months", "2 years".
std::string HumanDuration(absl::Duration duration);

// Decimal size with up to three significant digits: "512B", "4.1kB", "67.1MB", "1.07GB".
std::string HumanSize(int64_t bytes);

// Lower-case state name: "created", "running", "exited", "failed", "unknown".
std::string StateName(quilt::v1::ContainerState state);

// The ps STATUS column: "Created", "Up 5 seconds", "Exited (3) 2 minutes ago",
// "Failed (SetupFailed) 1 second ago".
std::string StatusText(const quilt::v1::Container& container, absl::Time now);

// The argv as a shell would read it: words with spaces, quotes or other shell characters are
// single-quoted.
std::string CommandText(const google::protobuf::RepeatedPtrField<std::string>& argv);

// Shortens `text` to at most `max` characters, ending in "..." when cut.
std::string Truncate(absl::string_view text, size_t max);

// Converts a protobuf Timestamp; absl::InfinitePast() when unset.
absl::Time ToTime(const google::protobuf::Timestamp& timestamp);

// RFC 3339 in UTC with nanoseconds trimmed of trailing zeros ("2026-11-22T10:00:00.5Z");
// empty for an unset timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// The message as JSON with proto field names, default values included and enums as names.
nlohmann::json ProtoToJson(const google::protobuf::Message& message);

// Writes `json` to `out`, indented, with a final newline.
void PrintJson(std::ostream& out, const nlohmann::json& json);

// Writes every byte of `data` to `fd`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, absl::string_view data);

// Returns `data` with `prefix` put at the start of each line. `at_line_start` carries, across
// chunks of one stream, whether the next byte starts a line; it is updated.
std::string PrefixLines(absl::string_view data, absl::string_view prefix, bool* at_line_start);

}  // namespace quilt::cli
