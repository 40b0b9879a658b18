// Appends container output to a log file in the log_record.h format, rotating it by size:
// <log> -> <log>.1 -> <log>.2 ... so that at most max_files files of about max_bytes each
// exist (one container cannot fill the disk).
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
  // CLOCK_REALTIME, first rotating when the record would take <log> past max_bytes (a record
  // is never split, so a file ends at a record boundary). Returns false with errno set when
  // the write failed.
  bool Append(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size);

 private:
  LogWriter(std::string path, LogLimits limits, UniqueFd fd, int64_t size)
      : path_(std::move(path)), limits_(limits), fd_(std::move(fd)), size_(size) {}

  // Shifts the files up by one name and starts an empty <log>. On failure, writing goes on
  // to the current file (and rotation is tried again at the next record).
  void Rotate();
  // Writes every byte of the iovecs, retrying short writes and EINTR.
  bool WriteAll(iovec* iov, int count);

  std::string path_;
  LogLimits limits_;
  UniqueFd fd_;
  int64_t size_ = 0;  // bytes in the current file
};

}  // namespace quilt
