// The monitor's rotating writer and the reader together: every file ends at a record
// boundary, disk use is bounded, and a reader (also one following mid-file) sees entries in
// order, never twice.
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/logs/log_reader.h"
#include "quiltd/monitor/log_writer.h"

namespace quilt {
namespace {

class LogRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/log_rotation_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/container.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  LogWriter OpenWriter(int64_t max_bytes, int max_files) {
    std::optional<LogWriter> writer = LogWriter::Open(path_, {max_bytes, max_files});
    EXPECT_TRUE(writer.has_value()) << strerror(errno);
    return std::move(*writer);
  }

  // Writes lines "first\n" .. "last\n", one record each.
  static void WriteNumbers(LogWriter& writer, int first, int last) {
    for (int i = first; i <= last; ++i) {
      const std::string line = absl::StrCat(i, "\n");
      ASSERT_TRUE(writer.Append(LogStreamId::kStdout, 0,
                                reinterpret_cast<const uint8_t*>(line.data()), line.size()));
    }
  }

  // The numbers in the entries, in order.
  static std::vector<int> Numbers(const std::vector<LogEntryData>& entries) {
    std::vector<int> numbers;
    for (const LogEntryData& entry : entries) {
      int n = 0;
      EXPECT_TRUE(absl::SimpleAtoi(absl::StripSuffix(entry.data, "\n"), &n)) << entry.data;
      numbers.push_back(n);
    }
    return numbers;
  }

  // Reads until the reader returns nothing.
  static std::vector<int> Drain(LogReader& reader) {
    std::vector<int> all;
    while (true) {
      absl::StatusOr<std::vector<LogEntryData>> entries = reader.ReadMore(64 * 1024);
      EXPECT_TRUE(entries.ok()) << entries.status();
      if (!entries.ok() || entries->empty()) return all;
      for (int n : Numbers(*entries)) all.push_back(n);
    }
  }

  int64_t FileSize(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
  }

  std::string dir_;
  std::string path_;
};

std::vector<int> Range(int first, int last) {
  std::vector<int> out;
  for (int i = first; i <= last; ++i) out.push_back(i);
  return out;
}

void ExpectStrictlyIncreasing(const std::vector<int>& numbers) {
  for (size_t i = 1; i < numbers.size(); ++i) {
    ASSERT_LT(numbers[i - 1], numbers[i]) << "at " << i;
  }
}

TEST_F(LogRotationTest, FilesStayUnderTheCapAndEndAtRecordBoundaries) {
  LogWriter writer = OpenWriter(1000, 3);
  WriteNumbers(writer, 1, 1000);
  for (const std::string& name : {path_, path_ + ".1", path_ + ".2"}) {
    const int64_t size = FileSize(name);
    EXPECT_GT(size, 0) << name;
    EXPECT_LE(size, 1000) << name;
    // Each file alone parses into whole records.
    std::filesystem::create_directory(dir_ + "/one");
    std::filesystem::copy_file(name, dir_ + "/one/log",
                               std::filesystem::copy_options::overwrite_existing);
    absl::StatusOr<LogReader> reader = LogReader::Open(dir_ + "/one/log", {});
    ASSERT_TRUE(reader.ok());
    absl::StatusOr<std::vector<LogEntryData>> entries = reader->ReadMore(1 << 20);
    ASSERT_TRUE(entries.ok()) << entries.status();
    EXPECT_EQ(reader->offset(), size) << name;
  }
  EXPECT_EQ(FileSize(path_ + ".3"), -1);
}

TEST_F(LogRotationTest, ReaderReadsAcrossFilesOldestFirst) {
  LogWriter writer = OpenWriter(500, 20);
  WriteNumbers(writer, 1, 200);
  ASSERT_GT(FileSize(path_ + ".5"), 0);
  absl::StatusOr<LogReader> reader = LogReader::Open(path_, {});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(Drain(*reader), Range(1, 200));
}

TEST_F(LogRotationTest, FollowerMidFileContinuesThroughRotations) {
  LogWriter writer = OpenWriter(400, 50);
  WriteNumbers(writer, 1, 10);
  absl::StatusOr<LogReader> reader = LogReader::Open(path_, {});
  ASSERT_TRUE(reader.ok());
  std::vector<int> seen = Drain(*reader);
  EXPECT_EQ(seen, Range(1, 10));
  // Several rotations while the reader sits at the end of what is now <log>.N.
  WriteNumbers(writer, 11, 300);
  for (int n : Drain(*reader)) seen.push_back(n);
  EXPECT_EQ(seen, Range(1, 300));
  WriteNumbers(writer, 301, 305);
  for (int n : Drain(*reader)) seen.push_back(n);
  EXPECT_EQ(seen, Range(1, 305));
}

TEST_F(LogRotationTest, FilesRotatedAwayBeforeBeingReadAreSkipped) {
  LogWriter writer = OpenWriter(300, 2);
  WriteNumbers(writer, 1, 5);
  absl::StatusOr<LogReader> reader = LogReader::Open(path_, {});
  ASSERT_TRUE(reader.ok());
  std::vector<int> seen = Drain(*reader);
  WriteNumbers(writer, 6, 500);
  for (int n : Drain(*reader)) seen.push_back(n);
  ExpectStrictlyIncreasing(seen);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), 500);
  EXPECT_LT(seen.size(), 500u);  // the middle is gone with the deleted files
}

TEST_F(LogRotationTest, SingleFileStartsOver) {
  LogWriter writer = OpenWriter(300, 1);
  WriteNumbers(writer, 1, 100);
  EXPECT_LE(FileSize(path_), 300);
  EXPECT_EQ(FileSize(path_ + ".1"), -1);
  absl::StatusOr<LogReader> reader = LogReader::Open(path_, {});
  ASSERT_TRUE(reader.ok());
  std::vector<int> seen = Drain(*reader);
  WriteNumbers(writer, 101, 200);
  for (int n : Drain(*reader)) seen.push_back(n);
  ExpectStrictlyIncreasing(seen);
  EXPECT_EQ(seen.back(), 200);
}

TEST_F(LogRotationTest, TailReachesIntoOlderFiles) {
  LogWriter writer = OpenWriter(200, 10);
  WriteNumbers(writer, 1, 100);
  absl::StatusOr<LogReader> reader = LogReader::Open(path_, {});
  ASSERT_TRUE(reader.ok());
  // A 200-byte file holds about 10 records: 35 lines span several files.
  ASSERT_TRUE(reader->SeekToTailLines(35).ok());
  EXPECT_EQ(Drain(*reader), Range(66, 100));
  ASSERT_TRUE(reader->SeekToTailLines(3).ok());
  EXPECT_EQ(Drain(*reader), Range(98, 100));
  ASSERT_TRUE(reader->SeekToTailLines(0).ok());
  EXPECT_TRUE(Drain(*reader).empty());
  WriteNumbers(writer, 101, 101);
  EXPECT_EQ(Drain(*reader), Range(101, 101));
}

TEST_F(LogRotationTest, ConcurrentWriterAndFollowerNeverDuplicateOrReorder) {
  constexpr int kLines = 30000;
  LogWriter writer = OpenWriter(4096, 4);
  std::atomic<bool> done{false};
  std::thread producer([&] {
    WriteNumbers(writer, 1, kLines);
    done = true;
  });
  absl::StatusOr<LogReader> reader = LogReader::Open(path_, {});
  ASSERT_TRUE(reader.ok());
  std::vector<int> seen;
  while (true) {
    const bool finished = done.load();
    for (int n : Drain(*reader)) seen.push_back(n);
    if (finished) break;
  }
  producer.join();
  for (int n : Drain(*reader)) seen.push_back(n);
  ExpectStrictlyIncreasing(seen);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), kLines);
  // The newest file's records are never lost: the tail is contiguous.
  const size_t n = seen.size();
  ASSERT_GE(n, 50u);
  for (size_t i = n - 50; i < n; ++i) EXPECT_EQ(seen[i], kLines - static_cast<int>(n - 1 - i));
}

}  // namespace
}  // namespace quilt
