#include "quiltd/logs/log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace quilt {
namespace {

// One pread fills this much; it must hold the largest record so a record cut by the end of
// the buffer can always be re-read whole from its start.
constexpr size_t kReadBufferSize = 256 * 1024;
static_assert(kReadBufferSize >= kLogHeaderSize + kLogMaxPayload);

// A matching record seen by the tail scan. `line_starts` counts the positions in its payload
// where a line begins: its first byte when the stream before it ended with '\n' (or it is the
// first record), and the byte after each '\n' except a final one.
struct TailRecord {
  int64_t offset;
  uint32_t length;
  bool starts_with_line;
  int64_t line_starts;
};

}  // namespace

absl::StatusOr<LogReader> LogReader::Open(const std::string& path, LogFilter filter) {
  LogReader reader(path, filter);
  QUILT_RETURN_IF_ERROR(reader.EnsureOpen().status());
  return reader;
}

absl::StatusOr<bool> LogReader::EnsureOpen() {
  if (fd_.valid()) return true;
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // The monitor creates the log when the container starts; until then it reads as empty.
    if (errno == ENOENT) return false;
    return ErrnoStatus(absl::StrCat("open log ", path_));
  }
  fd_.Reset(fd);
  return true;
}

bool LogReader::Matches(const LogRecordHeader& header) const {
  if (filter_.stream.has_value() && header.stream != static_cast<uint8_t>(*filter_.stream)) {
    return false;
  }
  if (filter_.exclude_setup && (header.flags & kLogFlagSetup) != 0) return false;
  return header.time_ns >= filter_.since_ns;
}

absl::Status LogReader::Scan(
    int64_t from, absl::FunctionRef<bool(int64_t, const LogRecordHeader&, absl::string_view)> fn,
    int64_t* end) {
  if (buffer_.empty()) buffer_.resize(kReadBufferSize);
  int64_t pos = from;
  *end = pos;
  while (true) {
    ssize_t n;
    do {
      n = ::pread(fd_.get(), buffer_.data(), buffer_.size(), pos);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoStatus(absl::StrCat("read log ", path_));
    const size_t got = static_cast<size_t>(n);
    size_t used = 0;
    while (got - used >= kLogHeaderSize) {
      LogRecordHeader header;
      if (!DecodeLogHeader(reinterpret_cast<const uint8_t*>(buffer_.data() + used), &header)) {
        return absl::DataLossError(
            absl::StrCat("read log ", path_, ": corrupt record header at offset ", pos + used));
      }
      // A record cut short is still being written (or continues in the next pread).
      if (got - used - kLogHeaderSize < header.length) break;
      absl::string_view payload(buffer_.data() + used + kLogHeaderSize, header.length);
      if (!fn(pos + static_cast<int64_t>(used), header, payload)) {
        *end = pos + static_cast<int64_t>(used);
        return absl::OkStatus();
      }
      used += kLogHeaderSize + header.length;
    }
    pos += static_cast<int64_t>(used);
    *end = pos;
    // A short read means we are at the end of the file; the rest (if any) is incomplete.
    if (got < buffer_.size()) return absl::OkStatus();
  }
}

absl::StatusOr<std::vector<LogEntryData>> LogReader::ReadMore(size_t max_bytes) {
  std::vector<LogEntryData> out;
  QUILT_ASSIGN_OR_RETURN(bool open, EnsureOpen());
  if (!open) return out;
  size_t bytes = 0;
  int64_t end = offset_;
  QUILT_RETURN_IF_ERROR(Scan(
      offset_,
      [&](int64_t record_offset, const LogRecordHeader& header, absl::string_view payload) {
        if (!Matches(header)) return true;
        if (record_offset == skip_record_offset_) {
          payload.remove_prefix(static_cast<size_t>(skip_in_first_));
        }
        // Stop before the entry that would overflow the batch (it is not consumed).
        if (!out.empty() && bytes + payload.size() > max_bytes) return false;
        bytes += payload.size();
        out.push_back(LogEntryData{header.time_ns, static_cast<LogStreamId>(header.stream),
                                   (header.flags & kLogFlagSetup) != 0, std::string(payload)});
        return true;
      },
      &end));
  offset_ = end;
  if (skip_record_offset_ >= 0 && offset_ > skip_record_offset_) {
    skip_record_offset_ = -1;
    skip_in_first_ = 0;
  }
  return out;
}

absl::Status LogReader::SeekToTailLines(int64_t lines) {
  skip_record_offset_ = -1;
  skip_in_first_ = 0;
  offset_ = 0;
  QUILT_ASSIGN_OR_RETURN(bool open, EnsureOpen());
  if (!open) return absl::OkStatus();

  // Records can only be parsed forwards, so scan the whole file once, keeping only the
  // shortest suffix of matching records that still holds `lines` line starts after its first
  // record (the first may hold the line start we want, or be the start of a longer line).
  std::deque<TailRecord> window;
  int64_t starts_after_front = 0;
  bool prev_ended_line = true;
  int64_t end = 0;
  QUILT_RETURN_IF_ERROR(Scan(
      0,
      [&](int64_t record_offset, const LogRecordHeader& header, absl::string_view payload) {
        if (!Matches(header)) return true;
        const bool ends_line = payload.back() == '\n';
        const int64_t newlines = std::count(payload.begin(), payload.end(), '\n');
        TailRecord record{record_offset, header.length, prev_ended_line,
                          newlines - (ends_line ? 1 : 0) + (prev_ended_line ? 1 : 0)};
        prev_ended_line = ends_line;
        if (!window.empty()) starts_after_front += record.line_starts;
        window.push_back(record);
        while (window.size() > 1 && starts_after_front >= lines) {
          window.pop_front();
          starts_after_front -= window.front().line_starts;
        }
        return true;
      },
      &end));
  if (lines <= 0 || window.empty()) {
    offset_ = end;
    return absl::OkStatus();
  }
  int64_t remaining = lines;
  for (auto it = window.rbegin(); it != window.rend(); ++it) {
    if (it->line_starts >= remaining) {
      return CutRecordAtLine(it->offset, it->length, it->starts_with_line, remaining);
    }
    remaining -= it->line_starts;
  }
  // Fewer lines than asked for: everything that matches.
  offset_ = window.front().offset;
  return absl::OkStatus();
}

absl::Status LogReader::CutRecordAtLine(int64_t record_offset, uint32_t length,
                                        bool starts_with_line, int64_t lines_from_end) {
  offset_ = record_offset;
  std::string payload(length, '\0');
  ssize_t n;
  do {
    n = ::pread(fd_.get(), payload.data(), length, record_offset + kLogHeaderSize);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ErrnoStatus(absl::StrCat("read log ", path_));
  if (static_cast<uint32_t>(n) != length) {
    return absl::DataLossError(absl::StrCat("read log ", path_, ": record at offset ",
                                            record_offset, " shrank while reading"));
  }
  std::vector<size_t> starts;
  if (starts_with_line) starts.push_back(0);
  for (size_t i = 0; i + 1 < payload.size(); ++i) {
    if (payload[i] == '\n') starts.push_back(i + 1);
  }
  const size_t cut = starts[starts.size() - static_cast<size_t>(lines_from_end)];
  if (cut > 0) {
    skip_record_offset_ = record_offset;
    skip_in_first_ = static_cast<int64_t>(cut);
  }
  return absl::OkStatus();
}

}  // namespace quilt
