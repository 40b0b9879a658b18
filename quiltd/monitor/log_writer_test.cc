#include "quiltd/monitor/log_writer.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace quilt {
namespace {

struct Record {
  LogStreamId stream;
  std::string data;
};

// Every whole record in the file; fails the test on a cut or corrupt one.
std::vector<Record> ReadRecords(const std::string& path) {
  std::vector<Record> records;
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string bytes;
  char buf[4096];
  for (ssize_t n; (n = read(fd.get(), buf, sizeof(buf))) > 0;) bytes.append(buf, n);
  size_t at = 0;
  while (at < bytes.size()) {
    LogRecordHeader header;
    EXPECT_GE(bytes.size() - at, kLogHeaderSize) << "cut header at " << at;
    if (bytes.size() - at < kLogHeaderSize) break;
    EXPECT_TRUE(DecodeLogHeader(reinterpret_cast<const uint8_t*>(bytes.data() + at), &header));
    at += kLogHeaderSize;
    EXPECT_GE(bytes.size() - at, header.length) << "cut payload at " << at;
    records.push_back({static_cast<LogStreamId>(header.stream), bytes.substr(at, header.length)});
    at += header.length;
  }
  return records;
}

bool Append(LogWriter& writer, const std::string& text) {
  return writer.Append(LogStreamId::kStdout, 0, reinterpret_cast<const uint8_t*>(text.data()),
                       text.size());
}

// A file size limit fails writes the way a full disk does (EFBIG instead of ENOSPC), after
// a short write, without needing root to mount a small filesystem.
TEST(LogWriterTest, DroppedOutputLeavesNoCutRecordAndIsMarkedLater) {
  std::signal(SIGXFSZ, SIG_IGN);
  char path[] = "/tmp/log-writer-test-XXXXXX";
  UniqueFd created(mkstemp(path));
  ASSERT_TRUE(created.valid());
  std::optional<LogWriter> opened = LogWriter::Open(path, LogLimits{});
  ASSERT_TRUE(opened.has_value());
  LogWriter& writer = *opened;
  ASSERT_TRUE(Append(writer, "one\n"));

  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct stat st {};
  ASSERT_EQ(stat(path, &st), 0);
  const rlimit small = {static_cast<rlim_t>(st.st_size) + 30, old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_FALSE(Append(writer, std::string(100, 'x')));
  EXPECT_FALSE(Append(writer, std::string(50, 'y')));
  EXPECT_EQ(writer.dropped_bytes(), 150u);
  struct stat after {};
  ASSERT_EQ(stat(path, &after), 0);
  EXPECT_EQ(after.st_size, st.st_size) << "a dropped record left bytes behind";
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);

  ASSERT_TRUE(Append(writer, "two\n"));
  EXPECT_EQ(writer.dropped_bytes(), 0u);
  std::vector<Record> records = ReadRecords(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].data, "one\n");
  EXPECT_EQ(records[1].stream, LogStreamId::kStderr);
  EXPECT_EQ(records[1].data, DropMarker(150, 2));
  EXPECT_EQ(records[2].data, "two\n");
  unlink(path);
}

// Rotation and dropping together: the marker and the next record each rotate when due,
// and every file still holds whole records only.
TEST(LogWriterTest, DropMarkerAndRotationKeepWholeRecords) {
  std::signal(SIGXFSZ, SIG_IGN);
  char dir[] = "/tmp/log-writer-test-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/container.log";
  std::optional<LogWriter> opened = LogWriter::Open(path, LogLimits{200, 2});
  ASSERT_TRUE(opened.has_value());
  LogWriter& writer = *opened;
  ASSERT_TRUE(Append(writer, "one\n"));

  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const rlimit small = {30, old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_FALSE(Append(writer, std::string(100, 'x')));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);

  // The marker still fits in <log>; the record after it does not and starts a new file.
  ASSERT_TRUE(Append(writer, std::string(150, 'z')));
  std::vector<Record> rotated = ReadRecords(path + ".1");
  ASSERT_EQ(rotated.size(), 2u);
  EXPECT_EQ(rotated[0].data, "one\n");
  EXPECT_EQ(rotated[1].data, DropMarker(100, 1));
  std::vector<Record> current = ReadRecords(path);
  ASSERT_EQ(current.size(), 1u);
  EXPECT_EQ(current[0].data, std::string(150, 'z'));
  unlink((path + ".1").c_str());
  unlink(path.c_str());
  rmdir(dir);
}

// A pipe holding `size` bytes of a repeating pattern (the pipe is made large enough).
struct FilledPipe {
  explicit FilledPipe(size_t size) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
    EXPECT_GE(fcntl(fds[1], F_SETPIPE_SZ, 1 << 20), static_cast<int>(size));
    for (size_t i = 0; i < size; ++i) data.push_back(static_cast<char>('a' + i % 26));
    EXPECT_EQ(write(fds[1], data.data(), size), static_cast<ssize_t>(size));
  }
  int Waiting() const {
    int n = -1;
    EXPECT_EQ(ioctl(read_end.get(), FIONREAD, &n), 0);
    return n;
  }
  UniqueFd read_end;
  UniqueFd write_end;
  std::string data;
};

TEST(LogWriterTest, SplicedRecordHoldsExactlyThePipesBytes) {
  char path[] = "/tmp/log-writer-test-XXXXXX";
  UniqueFd created(mkstemp(path));
  ASSERT_TRUE(created.valid());
  std::optional<LogWriter> opened = LogWriter::Open(path, LogLimits{});
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(Append(*opened, "before\n"));
  FilledPipe pipe(40000);
  ASSERT_TRUE(opened->AppendFromPipe(LogStreamId::kStderr, 0, pipe.read_end.get(), 40000));
  ASSERT_TRUE(Append(*opened, "after\n"));
  EXPECT_EQ(pipe.Waiting(), 0);
  std::vector<Record> records = ReadRecords(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].data, "before\n");
  EXPECT_EQ(records[1].stream, LogStreamId::kStderr);
  EXPECT_TRUE(records[1].data == pipe.data) << "spliced payload differs";
  EXPECT_EQ(records[2].data, "after\n");
  unlink(path);
}

// A write failing halfway through a splice (a full disk): what left the pipe is dropped and
// counted, the file keeps whole records only, and the rest waits in the pipe.
TEST(LogWriterTest, FailedSpliceDropsWhatItMovedAndLeavesTheRest) {
  std::signal(SIGXFSZ, SIG_IGN);
  char path[] = "/tmp/log-writer-test-XXXXXX";
  UniqueFd created(mkstemp(path));
  ASSERT_TRUE(created.valid());
  std::optional<LogWriter> opened = LogWriter::Open(path, LogLimits{});
  ASSERT_TRUE(opened.has_value());
  ASSERT_TRUE(Append(*opened, "one\n"));
  struct stat st {};
  ASSERT_EQ(stat(path, &st), 0);
  FilledPipe pipe(20000);

  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  const rlimit small = {static_cast<rlim_t>(st.st_size) + kLogHeaderSize + 4096, old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  EXPECT_FALSE(opened->AppendFromPipe(LogStreamId::kStdout, 0, pipe.read_end.get(), 20000));
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);

  struct stat after {};
  ASSERT_EQ(stat(path, &after), 0);
  EXPECT_EQ(after.st_size, st.st_size) << "a dropped record left bytes behind";
  const uint64_t dropped = opened->dropped_bytes();
  EXPECT_GT(dropped, 0u);
  EXPECT_EQ(dropped + static_cast<uint64_t>(pipe.Waiting()), 20000u);
  ASSERT_TRUE(Append(*opened, "two\n"));
  std::vector<Record> records = ReadRecords(path);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].stream, LogStreamId::kStderr);
  EXPECT_EQ(records[1].data, DropMarker(dropped, 1));
  EXPECT_EQ(records[2].data, "two\n");
  unlink(path);
}

TEST(LogWriterTest, FullDeviceNeverCrashesAndCounts) {
  std::optional<LogWriter> opened = LogWriter::Open("/dev/full", LogLimits{});
  ASSERT_TRUE(opened.has_value());
  LogWriter& writer = *opened;
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Append(writer, "lost\n"));
  EXPECT_EQ(writer.dropped_bytes(), 15u);
  EXPECT_FALSE(writer.FlushDropMarker());
}

}  // namespace
}  // namespace quilt
