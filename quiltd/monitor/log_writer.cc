#include "quiltd/monitor/log_writer.h"

#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace quilt {

std::string DropMarker(uint64_t bytes, uint64_t records) {
  return "quilt: " + std::to_string(bytes) + " bytes of output in " + std::to_string(records) +
         " writes dropped: the log's disk was full\n";
}

bool LogWriter::Append(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size) {
  if (!FlushDropMarker() || !WriteRecord(stream, flags, data, size)) {
    const int err = errno;
    dropped_bytes_ += size;
    ++dropped_records_;
    errno = err;
    return false;
  }
  return true;
}

bool LogWriter::FlushDropMarker() {
  if (dropped_records_ == 0) return true;
  const std::string marker = DropMarker(dropped_bytes_, dropped_records_);
  if (!WriteRecord(LogStreamId::kStderr, 0, reinterpret_cast<const uint8_t*>(marker.data()),
                   marker.size())) {
    return false;
  }
  dropped_bytes_ = 0;
  dropped_records_ = 0;
  return true;
}

bool LogWriter::WriteRecord(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  LogRecordHeader header;
  header.length = static_cast<uint32_t>(size);
  header.stream = static_cast<uint8_t>(stream);
  header.flags = flags;
  header.time_ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  uint8_t encoded[kLogHeaderSize];
  EncodeLogHeader(header, encoded);

  // The monitor is the only writer, so the end of the file is where this record starts.
  const off_t start = lseek(fd_.get(), 0, SEEK_END);
  iovec iov[2] = {{encoded, kLogHeaderSize}, {const_cast<uint8_t*>(data), size}};
  iovec* next = iov;
  int count = 2;
  // One writev normally writes the whole record; loop on short writes (signals, a nearly
  // full disk) so a record is never left half written while bytes can still be written.
  while (count > 0) {
    ssize_t n = writev(fd_.get(), next, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      // A cut record would read as one still being written and stall every reader at it
      // for good: take the part that was written back out.
      const int err = errno;
      if (start >= 0) (void)!ftruncate(fd_.get(), start);
      errno = err;
      return false;
    }
    size_t written = static_cast<size_t>(n);
    while (count > 0 && written >= next->iov_len) {
      written -= next->iov_len;
      ++next;
      --count;
    }
    if (count > 0) {
      next->iov_base = static_cast<uint8_t*>(next->iov_base) + written;
      next->iov_len -= written;
    }
  }
  return true;
}

}  // namespace quilt
