// Reading a container's log file (common/log_record.h) for the Logs RPC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/log_record.h"
#include "common/unique_fd.h"

namespace quilt {

struct LogEntryData {
  int64_t time_ns = 0;
  LogStreamId stream = LogStreamId::kStdout;
  bool setup = false;
  std::string data;
};

struct LogFilter {
  std::optional<LogStreamId> stream;  // only this stream
  bool exclude_setup = false;
  int64_t since_ns = 0;  // only entries at or after this time (0: all)
};

// Reads complete records from a growing log file, from a position on. Not thread-safe; one
// reader per stream.
class LogReader {
 public:
  // Opens the log. A missing file reads as empty until it appears (container not started).
  static absl::StatusOr<LogReader> Open(const std::string& path, LogFilter filter);

  // Positions the reader so that the next reads return only the last `lines` lines of the
  // entries that match the filter (a line ends at '\n'; a final partial line counts as one).
  // Entries are cut at line starts so no earlier bytes are returned.
  absl::Status SeekToTailLines(int64_t lines);

  // Returns up to `max_bytes` (at least one entry when any is available) of complete,
  // filtered entries after the current position and advances past them. Returns an empty
  // vector at the current end of the file (more may come later). An incomplete last record
  // is left for the next call. DATA_LOSS if the file is corrupt.
  absl::StatusOr<std::vector<LogEntryData>> ReadMore(size_t max_bytes);

  // Byte offset of the next record to read.
  int64_t offset() const { return offset_; }

 private:
  LogReader(std::string path, LogFilter filter) : path_(std::move(path)), filter_(filter) {}

  // Opens the file if it exists now. Returns false while it does not.
  absl::StatusOr<bool> EnsureOpen();
  bool Matches(const LogRecordHeader& header) const;
  // Calls `fn(offset, header, payload)` for each complete record from `from` on, in order,
  // until `fn` returns false (that record is not consumed) or the complete records end.
  // Sets `*end` to the offset after the last consumed record.
  absl::Status Scan(int64_t from,
                    absl::FunctionRef<bool(int64_t, const LogRecordHeader&, absl::string_view)> fn,
                    int64_t* end);
  // Positions the reader at the `lines_from_end`-th line start counted from the end of the
  // record at `record_offset` (payload `length` bytes; `starts_with_line` when its first byte
  // begins a line), cutting the payload there.
  absl::Status CutRecordAtLine(int64_t record_offset, uint32_t length, bool starts_with_line,
                               int64_t lines_from_end);

  std::string path_;
  LogFilter filter_;
  UniqueFd fd_;
  int64_t offset_ = 0;
  // Bytes to skip at the start of the next matching entry's payload (tail cut).
  int64_t skip_in_first_ = 0;
  int64_t skip_record_offset_ = -1;
  // pread buffer, allocated on first read; always holds at least one whole record.
  std::vector<char> buffer_;
};

}  // namespace quilt
