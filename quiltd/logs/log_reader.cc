#include "quiltd/logs/log_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <iterator>
#include <limits>

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
  size_t file;  // index in the list of files scanned
  int64_t offset;
  uint32_t length;
  bool starts_with_line;
  int64_t line_starts;
};

// How often OpenFiles lists again when rotations keep happening while it lists.
constexpr int kListAttempts = 8;

struct FileId {
  dev_t dev;
  ino_t ino;
  bool operator==(const FileId& other) const { return dev == other.dev && ino == other.ino; }
};

std::optional<FileId> StatId(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

}  // namespace

absl::StatusOr<LogReader> LogReader::Open(const std::string& path, LogFilter filter) {
  LogReader reader(path, filter);
  QUILT_RETURN_IF_ERROR(reader.EnsureOpen().status());
  return reader;
}

absl::StatusOr<std::vector<LogReader::File>> LogReader::OpenFiles() const {
  std::vector<File> newest_first;
  for (int attempt = 0; attempt < kListAttempts; ++attempt) {
    newest_first.clear();
    const std::optional<FileId> live_before = StatId(path_);
    // Names are probed newest first: a rotation only moves a file to an older name, so a
    // file that survives the listing is seen at least once (maybe twice, next to itself).
    // A rotation in progress leaves at most one name missing in the middle.
    int misses = 0;
    for (int k = 0; misses < 2; ++k) {
      const std::string name = k == 0 ? path_ : absl::StrCat(path_, ".", k);
      UniqueFd fd(::open(name.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) {
        if (errno != ENOENT) return ErrnoStatus(absl::StrCat("open log ", name));
        ++misses;
        continue;
      }
      misses = 0;
      struct stat st;
      if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(absl::StrCat("stat log ", name));
      if (!newest_first.empty() && newest_first.back().ino == st.st_ino &&
          newest_first.back().dev == st.st_dev) {
        continue;
      }
      newest_first.push_back(File{std::move(fd), st.st_dev, st.st_ino});
    }
    // Every rotation replaces <log>: the same <log> before and after means none completed
    // while listing, so the names seen are in order.
    if (StatId(path_) == live_before) break;
  }
  return std::vector<File>(std::make_move_iterator(newest_first.rbegin()),
                           std::make_move_iterator(newest_first.rend()));
}

absl::StatusOr<bool> LogReader::EnsureOpen() {
  if (current_.fd.valid()) return true;
  // The monitor creates the log when the container starts; until then it reads as empty.
  QUILT_ASSIGN_OR_RETURN(std::vector<File> files, OpenFiles());
  if (files.empty()) return false;
  SetCurrent(std::move(files.front()), 0);
  return true;
}

void LogReader::SetCurrent(File file, int64_t offset) {
  current_ = std::move(file);
  offset_ = offset;
  skip_record_offset_ = -1;
  skip_in_first_ = 0;
}

bool LogReader::CurrentRotated() const {
  const std::optional<FileId> live = StatId(path_);
  return !live.has_value() || live->dev != current_.dev || live->ino != current_.ino;
}

absl::StatusOr<bool> LogReader::MoveToNextFile() {
  QUILT_ASSIGN_OR_RETURN(std::vector<File> files, OpenFiles());
  size_t next = 0;  // the current file was rotated away: continue at the oldest left
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].dev == current_.dev && files[i].ino == current_.ino) next = i + 1;
  }
  // Nothing newer yet: the rotation that took <log> has not created the new one.
  if (next >= files.size()) return false;
  SetCurrent(std::move(files[next]), 0);
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
    int fd, int64_t from, int64_t limit,
    absl::FunctionRef<bool(int64_t, const LogRecordHeader&, absl::string_view)> fn, int64_t* end) {
  if (buffer_.empty()) buffer_.resize(kReadBufferSize);
  int64_t pos = from;
  *end = pos;
  while (pos < limit) {
    ssize_t n;
    do {
      n = ::pread(fd, buffer_.data(), buffer_.size(), pos);
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
      if (pos + static_cast<int64_t>(used) >= limit) {
        *end = pos + static_cast<int64_t>(used);
        return absl::OkStatus();
      }
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
  return absl::OkStatus();
}

absl::StatusOr<bool> LogReader::ReadCurrent(size_t max_bytes, size_t* bytes,
                                            std::vector<LogEntryData>* out) {
  bool full = false;
  int64_t end = offset_;
  QUILT_RETURN_IF_ERROR(Scan(
      current_.fd.get(), offset_, CurrentLimit(),
      [&](int64_t record_offset, const LogRecordHeader& header, absl::string_view payload) {
        if (!Matches(header)) return true;
        if (record_offset == skip_record_offset_) {
          payload.remove_prefix(static_cast<size_t>(skip_in_first_));
        }
        // Stop before the entry that would overflow the batch (it is not consumed).
        if (!out->empty() && *bytes + payload.size() > max_bytes) {
          full = true;
          return false;
        }
        *bytes += payload.size();
        out->push_back(LogEntryData{header.time_ns, static_cast<LogStreamId>(header.stream),
                                    (header.flags & kLogFlagSetup) != 0, std::string(payload)});
        return true;
      },
      &end));
  offset_ = end;
  if (skip_record_offset_ >= 0 && offset_ > skip_record_offset_) {
    skip_record_offset_ = -1;
    skip_in_first_ = 0;
  }
  return !full;
}

absl::StatusOr<std::vector<LogEntryData>> LogReader::ReadMore(size_t max_bytes) {
  std::vector<LogEntryData> out;
  QUILT_ASSIGN_OR_RETURN(bool open, EnsureOpen());
  if (!open) return out;
  size_t bytes = 0;
  while (true) {
    // Checked before reading: a file found rotated is final, so reading it to its end now
    // cannot miss a record written between the read and the check.
    const bool rotated = CurrentRotated();
    QUILT_ASSIGN_OR_RETURN(bool room, ReadCurrent(max_bytes, &bytes, &out));
    if (!room || !rotated || AtEndSnapshot()) return out;
    QUILT_ASSIGN_OR_RETURN(bool moved, MoveToNextFile());
    if (!moved) return out;
  }
}

void LogReader::StopAtCurrentEnd() {
  struct stat st;
  if (::stat(path_.c_str(), &st) != 0) {
    // No log yet: nothing was written before this request; stop at once.
    end_snapshot_ = {0, 0, true};
    return;
  }
  end_snapshot_ = {st.st_dev, st.st_ino, true};
  end_snapshot_size_ = st.st_size;
}

bool LogReader::IsEndSnapshot(const File& file) const {
  return end_snapshot_.set && file.dev == end_snapshot_.dev && file.ino == end_snapshot_.ino;
}

int64_t LogReader::CurrentLimit() const {
  return IsEndSnapshot(current_) ? end_snapshot_size_ : std::numeric_limits<int64_t>::max();
}

bool LogReader::AtEndSnapshot() const {
  if (!end_snapshot_.set) return false;
  // The log did not exist: nothing belongs to the history.
  if (end_snapshot_.dev == 0 && end_snapshot_.ino == 0) return true;
  return IsEndSnapshot(current_) && offset_ >= end_snapshot_size_;
}

absl::Status LogReader::SeekToTailLines(int64_t lines) {
  QUILT_ASSIGN_OR_RETURN(std::vector<File> files, OpenFiles());
  if (files.empty()) {
    SetCurrent(File(), 0);
    return absl::OkStatus();
  }
  // Most tails lie in the newest file; older files are scanned only when it holds too few
  // lines.
  for (size_t first = files.size(); first-- > 0;) {
    QUILT_ASSIGN_OR_RETURN(bool found, SeekToTailLinesFrom(files, first, lines));
    if (found || first == 0) return absl::OkStatus();
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LogReader::SeekToTailLinesFrom(std::vector<File>& files, size_t first,
                                                    int64_t lines) {
  // Records can only be parsed forwards, so scan the files once, keeping only the shortest
  // suffix of matching records that still holds `lines` line starts after its first record
  // (the first may hold the line start we want, or be the start of a longer line).
  std::deque<TailRecord> window;
  int64_t starts_after_front = 0;
  int64_t total_starts = 0;
  bool prev_ended_line = true;
  int64_t end = 0;
  for (size_t f = first; f < files.size(); ++f) {
    // Only what the file held when the scan began: a writer faster than this reader must
    // not keep the tail search going.
    struct stat st;
    if (::fstat(files[f].fd.get(), &st) != 0) return ErrnoStatus(absl::StrCat("stat log ", path_));
    const int64_t limit =
        IsEndSnapshot(files[f]) ? std::min<int64_t>(st.st_size, end_snapshot_size_) : st.st_size;
    QUILT_RETURN_IF_ERROR(Scan(
        files[f].fd.get(), 0, limit,
        [&](int64_t record_offset, const LogRecordHeader& header, absl::string_view payload) {
          if (!Matches(header)) return true;
          const bool ends_line = payload.back() == '\n';
          const int64_t newlines = std::count(payload.begin(), payload.end(), '\n');
          TailRecord record{f, record_offset, header.length, prev_ended_line,
                            newlines - (ends_line ? 1 : 0) + (prev_ended_line ? 1 : 0)};
          prev_ended_line = ends_line;
          total_starts += record.line_starts;
          if (!window.empty()) starts_after_front += record.line_starts;
          window.push_back(record);
          while (window.size() > 1 && starts_after_front >= lines) {
            window.pop_front();
            starts_after_front -= window.front().line_starts;
          }
          return true;
        },
        &end));
  }
  if (lines <= 0 || window.empty()) {
    if (first > 0 && lines > 0) return false;  // nothing matched here; look further back
    SetCurrent(std::move(files.back()), end);
    return true;
  }
  if (total_starts < lines && first > 0) return false;
  int64_t remaining = lines;
  for (auto it = window.rbegin(); it != window.rend(); ++it) {
    if (it->line_starts >= remaining) {
      SetCurrent(std::move(files[it->file]), it->offset);
      QUILT_RETURN_IF_ERROR(
          CutRecordAtLine(it->offset, it->length, it->starts_with_line, remaining));
      return true;
    }
    remaining -= it->line_starts;
  }
  // Fewer lines than asked for: everything that matches.
  SetCurrent(std::move(files[window.front().file]), window.front().offset);
  return true;
}

absl::Status LogReader::CutRecordAtLine(int64_t record_offset, uint32_t length,
                                        bool starts_with_line, int64_t lines_from_end) {
  offset_ = record_offset;
  std::string payload(length, '\0');
  ssize_t n;
  do {
    n = ::pread(current_.fd.get(), payload.data(), length, record_offset + kLogHeaderSize);
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
