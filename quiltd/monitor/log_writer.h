// Appends container output to a log file in the log_record.h format.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/log_record.h"
#include "common/unique_fd.h"

namespace quilt {

class LogWriter {
 public:
  // `fd` is the log file, opened with O_APPEND.
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}

  // Appends one record (header + `size` bytes, 1..kLogMaxPayload) stamped with the current
  // CLOCK_REALTIME. Returns false with errno set when the write failed.
  bool Append(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size);

 private:
  UniqueFd fd_;
};

}  // namespace quilt
