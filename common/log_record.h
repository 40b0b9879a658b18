// The on-disk format of a container log, written by the monitor and read by quiltd.
//
// A log file is a sequence of records, each a fixed 16-byte header followed by `length`
// payload bytes, appended with one writev(2) each. Records hold output exactly as it was
// read from the container's pipes: partial lines and binary data are kept, nothing is split
// or escaped. A reader that finds a header or payload cut short at the end of the file is
// looking at a record still being written and must wait, not skip it.
#pragma once

#include <cstdint>
#include <cstring>

namespace quilt {

// Which pipe the bytes came from.
enum class LogStreamId : uint8_t { kStdout = 1, kStderr = 2 };

// Flag bits.
inline constexpr uint8_t kLogFlagSetup = 1;  // output of a setup command

// Payload bytes per record at most (the monitor reads pipes in chunks of this size).
inline constexpr uint32_t kLogMaxPayload = 64 * 1024;

inline constexpr uint32_t kLogHeaderSize = 16;

struct LogRecordHeader {
  uint32_t length = 0;    // payload bytes, 1..kLogMaxPayload
  uint8_t stream = 0;     // LogStreamId
  uint8_t flags = 0;      // kLogFlag* bits
  uint16_t reserved = 0;  // zero
  int64_t time_ns = 0;    // CLOCK_REALTIME when the monitor read the bytes
};
static_assert(sizeof(LogRecordHeader) == kLogHeaderSize);

// Host byte order: a log is read on the machine that wrote it.
inline void EncodeLogHeader(const LogRecordHeader& header, uint8_t out[kLogHeaderSize]) {
  std::memcpy(out, &header, kLogHeaderSize);
}

// Returns false when the bytes cannot be a header (corrupt file).
inline bool DecodeLogHeader(const uint8_t in[kLogHeaderSize], LogRecordHeader* header) {
  std::memcpy(header, in, kLogHeaderSize);
  return header->length >= 1 && header->length <= kLogMaxPayload &&
         (header->stream == static_cast<uint8_t>(LogStreamId::kStdout) ||
          header->stream == static_cast<uint8_t>(LogStreamId::kStderr)) &&
         header->reserved == 0;
}

}  // namespace quilt
