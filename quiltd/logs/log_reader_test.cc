#include "quiltd/logs/log_reader.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string EncodeRecord(LogStreamId stream, const std::string& data, bool setup = false,
                         int64_t time_ns = 1000) {
  LogRecordHeader header;
  header.length = static_cast<uint32_t>(data.size());
  header.stream = static_cast<uint8_t>(stream);
  header.flags = setup ? kLogFlagSetup : 0;
  header.time_ns = time_ns;
  uint8_t bytes[kLogHeaderSize];
  EncodeLogHeader(header, bytes);
  return std::string(reinterpret_cast<char*>(bytes), kLogHeaderSize) + data;
}

class LogReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/log_reader_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/container.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // A tiny stand-in for the monitor's writer: appends raw bytes.
  void AppendRaw(const std::string& bytes) {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  void Append(LogStreamId stream, const std::string& data, bool setup = false,
              int64_t time_ns = 1000) {
    AppendRaw(EncodeRecord(stream, data, setup, time_ns));
  }
  void Out(const std::string& data) { Append(LogStreamId::kStdout, data); }

  LogReader OpenReader(LogFilter filter = {}) {
    auto reader = LogReader::Open(path_, filter);
    EXPECT_TRUE(reader.ok()) << reader.status();
    return std::move(*reader);
  }

  // Everything available now, as the payloads.
  static std::vector<std::string> Drain(LogReader& reader, size_t max_bytes = 1 << 20) {
    std::vector<std::string> out;
    while (true) {
      auto batch = reader.ReadMore(max_bytes);
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok() || batch->empty()) return out;
      for (auto& entry : *batch) out.push_back(entry.data);
    }
  }

  std::vector<std::string> Tail(int64_t lines, LogFilter filter = {}) {
    LogReader reader = OpenReader(filter);
    absl::Status status = reader.SeekToTailLines(lines);
    EXPECT_TRUE(status.ok()) << status;
    return Drain(reader);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(LogReaderTest, MissingFileReadsEmptyUntilItAppears) {
  LogReader reader = OpenReader();
  EXPECT_TRUE(Drain(reader).empty());
  Out("hello\n");
  EXPECT_THAT(Drain(reader), ElementsAre("hello\n"));
}

TEST_F(LogReaderTest, RoundTripKeepsEveryField) {
  Append(LogStreamId::kStdout, "setup output\n", /*setup=*/true, 5);
  Append(LogStreamId::kStderr, std::string("bin\0ary", 7), false, 6);
  Append(LogStreamId::kStdout, "partial line", false, 7);
  LogReader reader = OpenReader();
  auto batch = reader.ReadMore(1 << 20);
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_EQ((*batch)[0].data, "setup output\n");
  EXPECT_TRUE((*batch)[0].setup);
  EXPECT_EQ((*batch)[0].stream, LogStreamId::kStdout);
  EXPECT_EQ((*batch)[0].time_ns, 5);
  EXPECT_EQ((*batch)[1].data, std::string("bin\0ary", 7));
  EXPECT_EQ((*batch)[1].stream, LogStreamId::kStderr);
  EXPECT_FALSE((*batch)[1].setup);
  EXPECT_EQ((*batch)[2].data, "partial line");
  EXPECT_EQ((*batch)[2].time_ns, 7);
  EXPECT_EQ(reader.offset(), static_cast<int64_t>(3 * kLogHeaderSize + 13 + 7 + 12));
  EXPECT_TRUE(Drain(reader).empty());
}

TEST_F(LogReaderTest, PartialRecordAtEofIsReadOnceCompleted) {
  Out("first\n");
  std::string second = EncodeRecord(LogStreamId::kStderr, "second record\n");
  AppendRaw(second.substr(0, 7));  // part of the header
  LogReader reader = OpenReader();
  EXPECT_THAT(Drain(reader), ElementsAre("first\n"));
  int64_t at = reader.offset();
  AppendRaw(second.substr(7, kLogHeaderSize - 7 + 4));  // header done, part of the payload
  EXPECT_TRUE(Drain(reader).empty());
  EXPECT_EQ(reader.offset(), at);
  AppendRaw(second.substr(kLogHeaderSize + 4));
  Out("third\n");
  EXPECT_THAT(Drain(reader), ElementsAre("second record\n", "third\n"));
  EXPECT_TRUE(Drain(reader).empty());
}

TEST_F(LogReaderTest, FiltersByStreamSetupAndSince) {
  Append(LogStreamId::kStdout, "setup\n", true, 10);
  Append(LogStreamId::kStdout, "out1\n", false, 20);
  Append(LogStreamId::kStderr, "err1\n", false, 30);
  Append(LogStreamId::kStdout, "out2\n", false, 40);

  LogFilter only_err;
  only_err.stream = LogStreamId::kStderr;
  LogReader err = OpenReader(only_err);
  EXPECT_THAT(Drain(err), ElementsAre("err1\n"));

  LogFilter no_setup;
  no_setup.exclude_setup = true;
  LogReader plain = OpenReader(no_setup);
  EXPECT_THAT(Drain(plain), ElementsAre("out1\n", "err1\n", "out2\n"));

  LogFilter since;
  since.since_ns = 30;
  LogReader recent = OpenReader(since);
  EXPECT_THAT(Drain(recent), ElementsAre("err1\n", "out2\n"));
}

TEST_F(LogReaderTest, BatchesRespectMaxBytes) {
  for (int i = 0; i < 10; ++i) Out(std::string(99, 'a' + i) + "\n");
  LogReader reader = OpenReader();
  auto batch = reader.ReadMore(250);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->size(), 2u);
  // A budget smaller than one entry still returns one.
  batch = reader.ReadMore(1);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].data[0], 'c');
  std::vector<std::string> rest = Drain(reader, 300);
  ASSERT_EQ(rest.size(), 7u);
  EXPECT_EQ(rest.front()[0], 'd');
  EXPECT_EQ(rest.back()[0], 'j');
}

TEST_F(LogReaderTest, ReadsRecordsAcrossBufferBoundaries) {
  // 60 KiB records do not divide the 256 KiB read buffer, so records straddle its end.
  std::string all;
  for (int i = 0; i < 40; ++i) {
    all +=
        EncodeRecord(LogStreamId::kStdout, std::string(60 * 1024 - i, static_cast<char>('A' + i)));
  }
  AppendRaw(all);
  LogReader reader = OpenReader();
  std::vector<std::string> got = Drain(reader, 100 * 1024);
  ASSERT_EQ(got.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(got[i], std::string(60 * 1024 - i, static_cast<char>('A' + i))) << i;
  }
  EXPECT_EQ(reader.offset(), static_cast<int64_t>(all.size()));
}

TEST_F(LogReaderTest, CorruptHeaderIsDataLoss) {
  Out("fine\n");
  LogRecordHeader bad;
  bad.length = kLogMaxPayload + 1;
  bad.stream = 1;
  uint8_t bytes[kLogHeaderSize];
  EncodeLogHeader(bad, bytes);
  AppendRaw(std::string(reinterpret_cast<char*>(bytes), kLogHeaderSize) + "junk");
  LogReader reader = OpenReader();
  auto batch = reader.ReadMore(1 << 20);
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(batch.status().message(), HasSubstr(path_));
  EXPECT_THAT(batch.status().message(), HasSubstr(absl::StrCat("offset ", kLogHeaderSize + 5)));
  LogReader tail = OpenReader();
  EXPECT_EQ(tail.SeekToTailLines(3).code(), absl::StatusCode::kDataLoss);
}

TEST_F(LogReaderTest, TailCutsAnEntryAtALineStart) {
  Out("a\n");
  Out("b\nc\n");
  Out("d");  // a final partial line counts as a line
  EXPECT_THAT(Tail(1), ElementsAre("d"));
  EXPECT_THAT(Tail(2), ElementsAre("c\n", "d"));
  EXPECT_THAT(Tail(3), ElementsAre("b\nc\n", "d"));
  EXPECT_THAT(Tail(4), ElementsAre("a\n", "b\nc\n", "d"));
  EXPECT_THAT(Tail(100), ElementsAre("a\n", "b\nc\n", "d"));
}

TEST_F(LogReaderTest, TailKeepsALineSplitOverEntries) {
  Out("x\nhel");
  Out("lo ");
  Out("world\n");
  Out("last\n");
  EXPECT_THAT(Tail(1), ElementsAre("last\n"));
  EXPECT_THAT(Tail(2), ElementsAre("hel", "lo ", "world\n", "last\n"));
  EXPECT_THAT(Tail(3), ElementsAre("x\nhel", "lo ", "world\n", "last\n"));
}

TEST_F(LogReaderTest, TailCutsAnEntryThatContinuesALine) {
  Out("x");
  Out("abc\ndef\n");
  EXPECT_THAT(Tail(1), ElementsAre("def\n"));
  EXPECT_THAT(Tail(2), ElementsAre("x", "abc\ndef\n"));
}

TEST_F(LogReaderTest, TailZeroReturnsOnlyNewEntries) {
  Out("old\n");
  LogReader reader = OpenReader();
  ASSERT_TRUE(reader.SeekToTailLines(0).ok());
  EXPECT_TRUE(Drain(reader).empty());
  Out("new\n");
  EXPECT_THAT(Drain(reader), ElementsAre("new\n"));
}

TEST_F(LogReaderTest, TailCountsOnlyMatchingEntries) {
  Append(LogStreamId::kStdout, "o1\no2\n");
  Append(LogStreamId::kStderr, "e1\ne2\ne3\n");
  Append(LogStreamId::kStdout, "o3\n");
  LogFilter out;
  out.stream = LogStreamId::kStdout;
  EXPECT_THAT(Tail(2, out), ElementsAre("o2\n", "o3\n"));
}

TEST_F(LogReaderTest, TailOfALongLog) {
  std::string all;
  for (int i = 0; i < 5000; ++i)
    all += EncodeRecord(LogStreamId::kStdout, absl::StrCat("line ", i, "\n"));
  AppendRaw(all);
  EXPECT_THAT(Tail(3), ElementsAre("line 4997\n", "line 4998\n", "line 4999\n"));
}

TEST_F(LogReaderTest, TailWithSinceAndThenFollow) {
  Append(LogStreamId::kStdout, "early\n", false, 10);
  Append(LogStreamId::kStdout, "late1\nlate2\n", false, 50);
  LogFilter since;
  since.since_ns = 20;
  LogReader reader = OpenReader(since);
  ASSERT_TRUE(reader.SeekToTailLines(5).ok());
  EXPECT_THAT(Drain(reader), ElementsAre("late1\nlate2\n"));
  Append(LogStreamId::kStdout, "later\n", false, 60);
  EXPECT_THAT(Drain(reader), ElementsAre("later\n"));
}

TEST_F(LogReaderTest, TailOnMissingFileThenFollow) {
  LogReader reader = OpenReader();
  ASSERT_TRUE(reader.SeekToTailLines(10).ok());
  EXPECT_TRUE(Drain(reader).empty());
  Out("hi\n");
  EXPECT_THAT(Drain(reader), ElementsAre("hi\n"));
}

}  // namespace
}  // namespace quilt
