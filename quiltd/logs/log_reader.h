// Reading a container's log (common/log_record.h) for the Logs RPC, across the files the
// monitor rotates: <log>.N (oldest) ... <log>.1, <log> (being written).
#pragma once

#include <sys/types.h>

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

// Reads complete records from a growing, rotating log, from a position on. Not
// thread-safe; one reader per stream.
//
// A rotation renames <log> to <log>.1 (shifting older files up, dropping the oldest) at a
// record boundary and starts a new <log>. The reader keeps its file open, so a rotation
// under it changes nothing until it reaches that file's end; then, once <log> is no longer
// its file, it reads its file to the end once more (the writer never writes to a rotated
// file) and moves to the next newer one. Files rotated away before the reader got to them
// are skipped.
class LogReader {
 public:
  // Opens the log at its oldest file. A missing log reads as empty until it appears
  // (container not started).
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

  // Makes the reader stop where the log ends now (the newest file and its size): ReadMore
  // then returns nothing past that point, and SeekToTailLines counts lines only up to it.
  // A history read (Logs without follow) thus ends even while the container writes faster
  // than it is read.
  void StopAtCurrentEnd();

  // Byte offset of the next record to read, in the current file.
  int64_t offset() const { return offset_; }

 private:
  // One open file of the log.
  struct File {
    UniqueFd fd;
    dev_t dev = 0;
    ino_t ino = 0;
  };

  LogReader(std::string path, LogFilter filter) : path_(std::move(path)), filter_(filter) {}

  // Opens every file of the log, oldest first, as one consistent snapshot (retried when a
  // rotation ran while listing). Empty while the log does not exist.
  absl::StatusOr<std::vector<File>> OpenFiles() const;
  // Opens the oldest file if no file is open yet. Returns false while there is none.
  absl::StatusOr<bool> EnsureOpen();
  // Whether <log> is no longer the current file (so the current file is final).
  bool CurrentRotated() const;
  // Moves to the file after the current one; false when there is none yet.
  absl::StatusOr<bool> MoveToNextFile();
  void SetCurrent(File file, int64_t offset);
  bool Matches(const LogRecordHeader& header) const;
  // Calls `fn(offset, header, payload)` for each complete record of `fd` from `from` on, in
  // order, until `fn` returns false (that record is not consumed) or the complete records
  // end. Sets `*end` to the offset after the last consumed record.
  // Records starting at or after `limit` are not consumed.
  absl::Status Scan(int fd, int64_t from, int64_t limit,
                    absl::FunctionRef<bool(int64_t, const LogRecordHeader&, absl::string_view)> fn,
                    int64_t* end);
  // Whether `file` is the newest file as StopAtCurrentEnd saw it.
  bool IsEndSnapshot(const File& file) const;
  // Where reading the current file must stop (its end-snapshot size, or no limit).
  int64_t CurrentLimit() const;
  // True once the reader reached the end StopAtCurrentEnd recorded.
  bool AtEndSnapshot() const;
  // Reads entries of the current file into `out`; returns false when the batch is full.
  absl::StatusOr<bool> ReadCurrent(size_t max_bytes, size_t* bytes, std::vector<LogEntryData>* out);
  // Positions the reader at the `lines_from_end`-th line start counted from the end of the
  // record at `record_offset` (payload `length` bytes; `starts_with_line` when its first byte
  // begins a line), cutting the payload there.
  // SeekToTailLines over files[first..]; false when they hold fewer than `lines` lines and
  // older files exist (nothing is changed then).
  absl::StatusOr<bool> SeekToTailLinesFrom(std::vector<File>& files, size_t first, int64_t lines);
  absl::Status CutRecordAtLine(int64_t record_offset, uint32_t length, bool starts_with_line,
                               int64_t lines_from_end);

  std::string path_;
  LogFilter filter_;
  File current_;
  int64_t offset_ = 0;
  // Bytes to skip at the start of the next matching entry's payload (tail cut).
  int64_t skip_in_first_ = 0;
  int64_t skip_record_offset_ = -1;
  // The newest file and its size when StopAtCurrentEnd ran (dev 0, ino 0: no log yet).
  struct EndSnapshot {
    dev_t dev = 0;
    ino_t ino = 0;
    bool set = false;
  } end_snapshot_;
  int64_t end_snapshot_size_ = 0;
  // pread buffer, allocated on first read; always holds at least one whole record.
  std::vector<char> buffer_;
};

}  // namespace quilt
