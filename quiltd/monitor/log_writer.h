// Appends container output to a log file in the log_record.h format.
//
// A full disk never stops the monitor: output that cannot be written is dropped and
// counted, and once writes succeed again a marker record on stderr says how much was lost.
// Blocking instead would stall the workload as soon as its pipe filled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/log_record.h"
#include "common/unique_fd.h"

namespace quilt {

class LogWriter {
 public:
  // `fd` is the log file, opened with O_APPEND.
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}

  // Appends one record (header + `size` bytes, 1..kLogMaxPayload) stamped with the current
  // CLOCK_REALTIME, preceded by the drop marker if output was dropped before. Returns false
  // with errno set when the record was dropped; the file then holds no part of it.
  bool Append(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size);

  // Writes the drop marker if output was dropped and not yet reported. Returns false while
  // it cannot be written.
  bool FlushDropMarker();

  // Bytes dropped since the last marker.
  uint64_t dropped_bytes() const { return dropped_bytes_; }

 private:
  // Writes one whole record or, on failure, truncates the file back to where it was.
  bool WriteRecord(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size);

  UniqueFd fd_;
  uint64_t dropped_bytes_ = 0;
  uint64_t dropped_records_ = 0;
};

// The marker line written after `bytes` in `records` records were dropped.
std::string DropMarker(uint64_t bytes, uint64_t records);

}  // namespace quilt
