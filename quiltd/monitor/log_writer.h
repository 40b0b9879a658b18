// Appends container output to a log file in the log_record.h format, rotating it by size:
// <log> -> <log>.1 -> <log>.2 ... so that at most max_files files of about max_bytes each
// exist (one container cannot fill the disk).
//
// A full disk never stops the monitor: output that cannot be written is dropped and
// counted, and once writes succeed again a marker record on stderr says how much was lost.
// Blocking instead would stall the workload as soon as its pipe filled.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "common/log_record.h"
#include "common/unique_fd.h"

namespace quilt {

struct LogLimits {
  int64_t max_bytes = 0;  // size at which <log> is rotated; 0: never
  int max_files = 1;      // files kept, <log> included (1: <log> is started anew)
};

class LogWriter {
 public:
  // Opens `path` for appending, creating it. nullopt with errno set on failure.
  static std::optional<LogWriter> Open(std::string path, LogLimits limits);

  // Appends one record (header + `size` bytes, 1..kLogMaxPayload) stamped with the current
  // CLOCK_REALTIME, preceded by the drop marker if output was dropped before. Each record
  // first rotates <log> when it would take it past max_bytes (a record is never split, so a
  // file ends at a record boundary). Returns false with errno set when the record was
  // dropped; the file then holds no part of it.
  bool Append(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size);

  // Appends one record of the next `size` bytes (1..kLogMaxPayload) waiting in the pipe
  // `pipe_fd`, moved into the file by the kernel (splice) rather than copied through the
  // monitor. Returns false with errno set when the record was dropped: bytes already
  // moved count as dropped, the rest stays in the pipe.
  bool AppendFromPipe(LogStreamId stream, uint8_t flags, int pipe_fd, size_t size);

  // Writes the drop marker if output was dropped and not yet reported. Returns false while
  // it cannot be written.
  bool FlushDropMarker();

  // Bytes dropped since the last marker.
  uint64_t dropped_bytes() const { return dropped_bytes_; }

 private:
  LogWriter(std::string path, LogLimits limits, UniqueFd fd, int64_t size)
      : path_(std::move(path)), limits_(limits), fd_(std::move(fd)), size_(size) {}

  // Shifts the files up by one name and starts an empty <log>. On failure, writing goes on
  // to the current file (and rotation is tried again at the next record).
  void Rotate();
  // Rotates if the record of `size` bytes is due to, and encodes its header.
  void StartRecord(LogStreamId stream, uint8_t flags, size_t size, uint8_t encoded[kLogHeaderSize]);
  // Writes one whole record, rotating first if it is due, or, on failure, truncates the
  // file back to where it was.
  bool WriteRecord(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size);
  // Writes every byte of the iovecs at the end of the file, retrying short writes and EINTR.
  bool WriteAll(iovec* iov, int count);

  std::string path_;
  LogLimits limits_;
  UniqueFd fd_;
  int64_t size_ = 0;  // bytes in the current file
  uint64_t dropped_bytes_ = 0;
  uint64_t dropped_records_ = 0;
};

// The marker line written after `bytes` in `records` records were dropped.
std::string DropMarker(uint64_t bytes, uint64_t records);

}  // namespace quilt
