#include "quiltd/monitor/log_writer.h"

#include <sys/uio.h>
#include <time.h>

#include <cerrno>

namespace quilt {

bool LogWriter::Append(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  LogRecordHeader header;
  header.length = static_cast<uint32_t>(size);
  header.stream = static_cast<uint8_t>(stream);
  header.flags = flags;
  header.time_ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  uint8_t encoded[kLogHeaderSize];
  EncodeLogHeader(header, encoded);

  iovec iov[2] = {{encoded, kLogHeaderSize}, {const_cast<uint8_t*>(data), size}};
  iovec* next = iov;
  int count = 2;
  // One writev normally writes the whole record; loop on short writes (signals, a nearly
  // full disk) so a record is never left half written while bytes can still be written.
  while (count > 0) {
    ssize_t n = writev(fd_.get(), next, count);
    if (n < 0) {
      if (errno == EINTR) continue;
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
