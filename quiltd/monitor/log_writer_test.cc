#include "quiltd/monitor/log_writer.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
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
  LogWriter writer(UniqueFd(open(path, O_WRONLY | O_APPEND | O_CLOEXEC)));
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

TEST(LogWriterTest, FullDeviceNeverCrashesAndCounts) {
  LogWriter writer(UniqueFd(open("/dev/full", O_WRONLY | O_CLOEXEC)));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Append(writer, "lost\n"));
  EXPECT_EQ(writer.dropped_bytes(), 15u);
  EXPECT_FALSE(writer.FlushDropMarker());
}

}  // namespace
}  // namespace quilt
