#include "quiltd/monitor/log_writer.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace quilt {
namespace {

// Not O_APPEND: splice(2) refuses such a file. The monitor is the only writer and writes at
// the size it tracks.
constexpr int kOpenFlags = O_WRONLY | O_CREAT | O_CLOEXEC;

std::string RotatedName(const std::string& path, int index) {
  return path + "." + std::to_string(index);
}

}  // namespace

std::optional<LogWriter> LogWriter::Open(std::string path, LogLimits limits) {
  UniqueFd fd(open(path.c_str(), kOpenFlags, 0640));
  if (!fd.valid()) return std::nullopt;
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return std::nullopt;
  return LogWriter(std::move(path), limits, std::move(fd), st.st_size);
}

void LogWriter::Rotate() {
  // Oldest first, so each rename replaces a name already moved on: a reader listing the
  // names newest first never misses a file that survives (see LogReader).
  if (limits_.max_files <= 1) {
    if (unlink(path_.c_str()) != 0 && errno != ENOENT) return;
  } else {
    for (int i = limits_.max_files - 1; i >= 2; --i) {
      if (rename(RotatedName(path_, i - 1).c_str(), RotatedName(path_, i).c_str()) != 0 &&
          errno != ENOENT) {
        return;
      }
    }
    if (rename(path_.c_str(), RotatedName(path_, 1).c_str()) != 0) return;
  }
  // O_TRUNC: should a stale <log> have appeared meanwhile, it is not appended to.
  UniqueFd fd(open(path_.c_str(), kOpenFlags | O_TRUNC, 0640));
  if (!fd.valid()) return;
  fd_ = std::move(fd);
  size_ = 0;
}

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

bool LogWriter::AppendFromPipe(LogStreamId stream, uint8_t flags, int pipe_fd, size_t size) {
  const off_t start = static_cast<off_t>(size_);
  if (FlushDropMarker()) {
    uint8_t header[kLogHeaderSize];
    StartRecord(stream, flags, size, header);
    iovec iov = {header, kLogHeaderSize};
    size_t moved = 0;
    if (WriteAll(&iov, 1)) {
      while (moved < size) {
        loff_t at = static_cast<loff_t>(size_);
        ssize_t n = splice(pipe_fd, nullptr, fd_.get(), &at, size - moved, SPLICE_F_MOVE);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        moved += static_cast<size_t>(n);
        size_ += n;
      }
      if (moved == size) return true;
    }
    // What was moved is out of the pipe: dropped with the record. The rest stays in the
    // pipe for the caller to read (and drop, while the disk is full).
    const int err = errno == 0 ? EIO : errno;
    if (ftruncate(fd_.get(), start) == 0) size_ = start;
    if (moved > 0) {
      dropped_bytes_ += moved;
      ++dropped_records_;
    }
    errno = err;
  }
  return false;
}

void LogWriter::StartRecord(LogStreamId stream, uint8_t flags, size_t size,
                            uint8_t encoded[kLogHeaderSize]) {
  // Rotating also frees the oldest file, which is what a full disk needs most.
  const int64_t record_size = static_cast<int64_t>(kLogHeaderSize + size);
  if (limits_.max_bytes > 0 && size_ > 0 && size_ + record_size > limits_.max_bytes) Rotate();
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  LogRecordHeader header;
  header.length = static_cast<uint32_t>(size);
  header.stream = static_cast<uint8_t>(stream);
  header.flags = flags;
  header.time_ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  EncodeLogHeader(header, encoded);
}

bool LogWriter::WriteRecord(LogStreamId stream, uint8_t flags, const uint8_t* data, size_t size) {
  uint8_t header[kLogHeaderSize];
  StartRecord(stream, flags, size, header);
  // The monitor is the only writer, so the end of the file, which size_ tracks, is where
  // this record starts.
  const off_t start = static_cast<off_t>(size_);
  iovec iov[2] = {{header, kLogHeaderSize}, {const_cast<uint8_t*>(data), size}};
  if (WriteAll(iov, 2)) return true;
  // A cut record would read as one still being written and stall every reader at it for
  // good: take the part that was written back out.
  const int err = errno;
  if (ftruncate(fd_.get(), start) == 0) size_ = start;
  errno = err;
  return false;
}

bool LogWriter::WriteAll(iovec* next, int count) {
  // One writev normally writes the whole record; loop on short writes (signals, a nearly
  // full disk) so a record is never left half written while bytes can still be written.
  while (count > 0) {
    ssize_t n = pwritev(fd_.get(), next, count, static_cast<off_t>(size_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    size_ += n;
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
