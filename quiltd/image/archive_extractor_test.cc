#include "quiltd/image/archive_extractor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/image/test_archive.h"

namespace quilt {
namespace {

using ::quilt::testing::Compression;
using ::quilt::testing::EntryType;
using ::quilt::testing::ListNames;
using ::quilt::testing::ReadFile;
using ::quilt::testing::ScratchDir;
using ::quilt::testing::Sha256File;
using ::quilt::testing::TestEntry;
using ::quilt::testing::WriteFile;
using ::quilt::testing::WriteTestArchive;
using ::testing::HasSubstr;

std::vector<TestEntry> GoodEntries() {
  return {
      {.path = "./", .type = EntryType::kDir, .mode = 0755},
      {.path = "bin/", .type = EntryType::kDir, .mode = 0755},
      {.path = "bin/busybox", .data = "#!fake busybox\n", .mode = 0755},
      {.path = "bin/sh", .type = EntryType::kSymlink, .target = "/bin/busybox"},
      {.path = "bin/ls", .type = EntryType::kSymlink, .target = "busybox"},
      {.path = "bin/hard", .type = EntryType::kHardlink, .target = "bin/busybox"},
      {.path = "tmp/", .type = EntryType::kDir, .mode = 01777},
      {.path = "etc/passwd", .data = "root:x:0:0:root:/root:/bin/sh\n"},
      {.path = "run/fifo", .type = EntryType::kFifo},
  };
}

class ExtractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    ASSERT_EQ(::mkdir(dest_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(sentinel_.c_str(), 0755), 0);
  }

  ScratchDir scratch_;
  const std::string archive_ = scratch_.Sub("image.tar");
  const std::string dest_ = scratch_.Sub("dest");
  const std::string sentinel_ = scratch_.Sub("sentinel");
};

class CompressionTest : public ExtractTest, public ::testing::WithParamInterface<Compression> {};

TEST_P(CompressionTest, ExtractsTreeAndHashesFile) {
  ASSERT_TRUE(WriteTestArchive(archive_, GoodEntries(), GetParam()).ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sha256_hex, *Sha256File(archive_));
  EXPECT_EQ(result->entries, 9);
  EXPECT_EQ(result->size_bytes, 15 + 30);
  EXPECT_EQ(*ReadFile(dest_ + "/bin/busybox"), "#!fake busybox\n");
  char target[64] = {};
  ASSERT_GT(::readlink((dest_ + "/bin/sh").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "/bin/busybox");
  struct stat a, b, t, f;
  ASSERT_EQ(::stat((dest_ + "/bin/busybox").c_str(), &a), 0);
  ASSERT_EQ(::stat((dest_ + "/bin/hard").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_mode & 07777, 0755u);
  EXPECT_EQ(a.st_mtime, 1700000000);
  ASSERT_EQ(::stat((dest_ + "/tmp").c_str(), &t), 0);
  EXPECT_EQ(t.st_mode & 07777, 01777u);
  ASSERT_EQ(::lstat((dest_ + "/run/fifo").c_str(), &f), 0);
  EXPECT_TRUE(S_ISFIFO(f.st_mode));
}

INSTANTIATE_TEST_SUITE_P(AllCompressions, CompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip, Compression::kXz,
                                           Compression::kZstd, Compression::kBzip2));

TEST_F(ExtractTest, DigestCoversBytesAfterTheEndOfArchive) {
  ASSERT_TRUE(WriteTestArchive(archive_, GoodEntries()).ok());
  const std::string plain_digest = *Sha256File(archive_);
  ASSERT_TRUE(WriteFile(archive_, *ReadFile(archive_) + std::string(4096, 'x')).ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->sha256_hex, *Sha256File(archive_));
  EXPECT_NE(result->sha256_hex, plain_digest);
}

struct HostileCase {
  std::string test_name;
  std::vector<TestEntry> entries;  // "@S" in a path or target is replaced by the sentinel dir
  std::string bad_entry;           // the entry the error must name
};

class HostileTest : public ExtractTest, public ::testing::WithParamInterface<HostileCase> {
 protected:
  std::vector<TestEntry> Entries() const {
    std::vector<TestEntry> entries = GetParam().entries;
    for (TestEntry& e : entries) {
      for (std::string* s : {&e.path, &e.target}) {
        if (const size_t at = s->find("@S"); at != std::string::npos) s->replace(at, 2, sentinel_);
      }
    }
    return entries;
  }
};

TEST_P(HostileTest, RefusedWithoutWritingOutside) {
  const std::vector<TestEntry> entries = Entries();
  ASSERT_TRUE(WriteTestArchive(archive_, entries).ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  std::string bad = GetParam().bad_entry;
  if (const size_t at = bad.find("@S"); at != std::string::npos) bad.replace(at, 2, sentinel_);
  EXPECT_THAT(result.status().message(), HasSubstr(absl::StrCat("entry \"", bad, "\"")));
  EXPECT_THAT(ListNames(sentinel_), ::testing::IsEmpty());
  EXPECT_EQ(ListNames(scratch_.path()),
            (std::vector<std::string>{"dest", "image.tar", "sentinel"}));
}

const TestEntry kFile{.path = "ok", .data = "fine"};

INSTANTIATE_TEST_SUITE_P(
    Hostile, HostileTest,
    ::testing::Values(
        HostileCase{"DotDot", {kFile, {.path = "../sentinel/x", .data = "pwn"}}, "../sentinel/x"},
        HostileCase{
            "DotDotInside", {{.path = "a/../../sentinel/x", .data = "p"}}, "a/../../sentinel/x"},
        HostileCase{"AbsolutePath", {{.path = "@S/abs", .data = "pwn"}}, "@S/abs"},
        HostileCase{"SymlinkThenFileThroughIt",
                    {{.path = "evil", .type = EntryType::kSymlink, .target = "@S"},
                     {.path = "evil/pwned", .data = "pwn"}},
                    "evil/pwned"},
        HostileCase{"RelativeSymlinkThenFileThroughIt",
                    {{.path = "evil", .type = EntryType::kSymlink, .target = "../sentinel"},
                     {.path = "evil/pwned", .data = "pwn"}},
                    "evil/pwned"},
        HostileCase{"SymlinkThenDirThroughIt",
                    {{.path = "evil", .type = EntryType::kSymlink, .target = "@S"},
                     {.path = "evil/sub/", .type = EntryType::kDir, .mode = 0755}},
                    "evil/sub/"},
        HostileCase{"HardlinkThroughSymlink",
                    {{.path = "evil", .type = EntryType::kSymlink, .target = "@S"},
                     {.path = "h", .type = EntryType::kHardlink, .target = "evil/x"}},
                    "h"},
        HostileCase{"HardlinkAbsolute",
                    {{.path = "h", .type = EntryType::kHardlink, .target = "/etc/passwd"}},
                    "h"},
        HostileCase{"HardlinkDotDot",
                    {{.path = "h", .type = EntryType::kHardlink, .target = "../image.tar"}},
                    "h"},
        HostileCase{"HardlinkToMissingTarget",
                    {kFile, {.path = "h", .type = EntryType::kHardlink, .target = "nothere"}},
                    "h"},
        HostileCase{"HardlinkIntoMissingDirectory",
                    {{.path = "h", .type = EntryType::kHardlink, .target = "no/such"}},
                    "h"},
        HostileCase{"HardlinkToDirectory",
                    {{.path = "d/", .type = EntryType::kDir, .mode = 0755},
                     {.path = "h", .type = EntryType::kHardlink, .target = "d"}},
                    "h"},
        HostileCase{"CharDevice",
                    {kFile, {.path = "dev/null", .type = EntryType::kCharDevice}},
                    "dev/null"},
        HostileCase{
            "BlockDevice", {{.path = "dev/loop0", .type = EntryType::kBlockDevice}}, "dev/loop0"},
        HostileCase{"FileAtRoot", {{.path = ".", .data = "not a dir"}}, "."}),
    [](const ::testing::TestParamInfo<HostileCase>& param_info) {
      return param_info.param.test_name;
    });

TEST_F(ExtractTest, RefusesEntryAboveSizeLimit) {
  ASSERT_TRUE(
      WriteTestArchive(archive_, {kFile, {.path = "big", .data = std::string(11, 'b')}}).ok());
  absl::StatusOr<ExtractResult> result =
      ExtractArchive(archive_, dest_, {.max_entry_bytes = 10, .max_entries = 100});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(result.status().message(), HasSubstr("entry \"big\": size 11 exceeds"));
  EXPECT_EQ(ListNames(dest_), (std::vector<std::string>{"ok"}));
}

TEST_F(ExtractTest, RefusesTooManyEntries) {
  ASSERT_TRUE(WriteTestArchive(archive_, {{.path = "a"}, {.path = "b"}, {.path = "c"}}).ok());
  absl::StatusOr<ExtractResult> result =
      ExtractArchive(archive_, dest_, {.max_entry_bytes = 10, .max_entries = 2});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(result.status().message(), HasSubstr("entry \"c\": archive has more than 2"));
  EXPECT_TRUE(ExtractArchive(archive_, scratch_.Sub("dest"), {.max_entries = 3}).ok());
}

TEST_F(ExtractTest, RefusesArchiveAboveTotalLimitBeforeWriting) {
  ASSERT_TRUE(WriteTestArchive(archive_, {{.path = "a", .data = std::string(6, 'a')},
                                          {.path = "d/", .type = EntryType::kDir},
                                          {.path = "b", .data = std::string(6, 'b')}})
                  .ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_, {.max_total_bytes = 10});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(result.status().message(), HasSubstr("entry \"b\": archive unpacks to more than 10"));
  EXPECT_EQ(ListNames(dest_), (std::vector<std::string>{"a", "d"}));
  EXPECT_TRUE(ExtractArchive(archive_, scratch_.Sub("sentinel"), {.max_total_bytes = 12}).ok());
}

TEST_F(ExtractTest, DropsSetuidAndSetgidButNotFromDirectories) {
  ASSERT_TRUE(WriteTestArchive(archive_, {{.path = "suid", .data = "x", .mode = 04755},
                                          {.path = "sgid", .data = "x", .mode = 02755},
                                          {.path = "dir/", .type = EntryType::kDir, .mode = 02775},
                                          {.path = "tmp/", .type = EntryType::kDir, .mode = 01777}})
                  .ok());
  ASSERT_TRUE(ExtractArchive(archive_, dest_).ok());
  auto mode = [&](const std::string& name) {
    struct stat st {};
    EXPECT_EQ(::lstat((dest_ + "/" + name).c_str(), &st), 0) << name;
    return st.st_mode & 07777;
  };
  EXPECT_EQ(mode("suid"), 0755u);
  EXPECT_EQ(mode("sgid"), 0755u);
  EXPECT_EQ(mode("dir"), 02775u);
  EXPECT_EQ(mode("tmp"), 01777u);
}

TEST_F(ExtractTest, DefaultLimits) {
  EXPECT_EQ(kMaxArchiveEntryBytes, int64_t{64} * 1024 * 1024 * 1024);
  EXPECT_EQ(kMaxArchiveEntries, 1'000'000);
  EXPECT_EQ(kMaxArchiveTotalBytes, int64_t{16} * 1024 * 1024 * 1024);
}

TEST_F(ExtractTest, TruncatedGzipIsInvalidArgument) {
  ASSERT_TRUE(WriteTestArchive(archive_, {{.path = "f", .data = std::string(100000, 'z')}},
                               Compression::kGzip)
                  .ok());
  const std::string bytes = *ReadFile(archive_);
  ASSERT_TRUE(WriteFile(archive_, bytes.substr(0, bytes.size() / 2)).ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
}

TEST_F(ExtractTest, TruncatedTarIsInvalidArgument) {
  ASSERT_TRUE(WriteTestArchive(archive_, {{.path = "f", .data = std::string(100000, 'z')}}).ok());
  const std::string bytes = *ReadFile(archive_);
  ASSERT_TRUE(WriteFile(archive_, bytes.substr(0, 5000)).ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("entry \"f\""));
}

TEST_F(ExtractTest, NonArchiveIsInvalidArgument) {
  ASSERT_TRUE(WriteFile(archive_, std::string(10000, 'j') + "this is not a tarball").ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("read archive: "));
}

TEST_F(ExtractTest, EmptyFileIsInvalidArgument) {
  ASSERT_TRUE(WriteFile(archive_, "").ok());
  absl::StatusOr<ExtractResult> result = ExtractArchive(archive_, dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("empty file"));
}

TEST_F(ExtractTest, MissingFileIsNotFound) {
  absl::StatusOr<ExtractResult> result = ExtractArchive(scratch_.Sub("nope.tar"), dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ExtractTest, DirectoryIsInvalidArgument) {
  absl::StatusOr<ExtractResult> result = ExtractArchive(sentinel_, dest_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("not a regular file"));
}

}  // namespace
}  // namespace quilt
