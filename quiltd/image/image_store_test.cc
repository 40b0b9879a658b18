#include "quiltd/image/image_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(scratch_.path().empty());
    ASSERT_EQ(::mkdir(sentinel_.c_str(), 0755), 0);
    OpenStore();
  }

  void OpenStore() {
    store_.reset();
    absl::StatusOr<std::unique_ptr<ImageStore>> store = ImageStore::Open(scratch_.Sub("state"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // Writes an archive whose one file holds `content` (so different contents, different
  // digests) and returns its path.
  std::string MakeArchive(const std::string& file, const std::string& content,
                          Compression compression = Compression::kGzip) {
    const std::string path = scratch_.Sub(file);
    EXPECT_TRUE(WriteTestArchive(path,
                                 {{.path = "bin/", .type = EntryType::kDir, .mode = 0755},
                                  {.path = "bin/app", .data = content, .mode = 0755}},
                                 compression)
                    .ok());
    return path;
  }

  std::string ImagesDir() const { return scratch_.Sub("state/images"); }
  // The entries of the images directory but the (shared) layers directory.
  std::vector<std::string> ImageEntries() const {
    std::vector<std::string> names = ListNames(ImagesDir());
    std::erase(names, "layers");
    return names;
  }

  ScratchDir scratch_;
  const std::string sentinel_ = scratch_.Sub("sentinel");
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImageStoreTest, ImportUnpacksAndRecords) {
  const std::string archive = MakeArchive("a.tar.gz", "hello");
  absl::StatusOr<ImportResult> result = store_->Import(archive, "base");
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string hex = *Sha256File(archive);
  EXPECT_TRUE(result->unpacked);
  EXPECT_EQ(result->image.digest, "sha256:" + hex);
  EXPECT_THAT(result->image.names, ElementsAre("base"));
  EXPECT_EQ(result->image.size_bytes, 5);
  EXPECT_GT(result->image.created_at_ns, 0);
  EXPECT_EQ(ImageEntries(), std::vector<std::string>{hex});
  const std::string rootfs = ImagesDir() + "/" + hex + "/rootfs";
  auto lower = store_->LowerDirs(result->image.digest);
  ASSERT_TRUE(lower.ok()) << lower.status();
  EXPECT_THAT(*lower, ElementsAre(rootfs));
  EXPECT_EQ(*ReadFile(rootfs + "/bin/app"), "hello");
  EXPECT_THAT(*ReadFile(ImagesDir() + "/" + hex + "/image.json"), HasSubstr("\"base\""));
}

TEST_F(ImageStoreTest, SameBytesTwiceUnpacksOnce) {
  const std::string archive = MakeArchive("a.tar", "same", Compression::kNone);
  ASSERT_TRUE(store_->Import(archive, "one").ok());
  absl::StatusOr<ImportResult> again = store_->Import(archive, "two");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->unpacked);
  EXPECT_THAT(again->image.names, ElementsAre("one", "two"));
  EXPECT_EQ(ImageEntries().size(), 1u);
  EXPECT_EQ(store_->List().size(), 1u);
}

TEST_F(ImageStoreTest, SameBytesFromAnotherFileAreKeptOnce) {
  const std::string archive = MakeArchive("a.tar", "same", Compression::kNone);
  ASSERT_TRUE(store_->Import(archive, "one").ok());
  const std::string copy = scratch_.Sub("copy.tar");
  ASSERT_TRUE(std::filesystem::copy_file(archive, copy));
  absl::StatusOr<ImportResult> again = store_->Import(copy, "two");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->unpacked);
  EXPECT_THAT(again->image.names, ElementsAre("one", "two"));
  // The second unpack, found to be the same image, is gone.
  EXPECT_EQ(ImageEntries().size(), 1u);
}

TEST_F(ImageStoreTest, FileRewrittenSinceItsImportIsReadAgain) {
  const std::string archive = MakeArchive("a.tar", "v1", Compression::kNone);
  absl::StatusOr<ImportResult> first = store_->Import(archive, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(MakeArchive("a.tar", "v2", Compression::kNone), archive);
  absl::StatusOr<ImportResult> second = store_->Import(archive, "");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->unpacked);
  EXPECT_NE(second->image.digest, first->image.digest);
  EXPECT_EQ(second->image.digest, "sha256:" + *Sha256File(archive));
}

TEST_F(ImageStoreTest, FileImportedAgainAfterItsImageWasRemovedIsUnpacked) {
  const std::string archive = MakeArchive("a.tar", "v1", Compression::kNone);
  absl::StatusOr<ImportResult> first = store_->Import(archive, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(store_->Remove(first->image.digest).ok());
  absl::StatusOr<ImportResult> again = store_->Import(archive, "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->unpacked);
  EXPECT_EQ(*ReadFile(ImagesDir() + "/" + again->image.digest.substr(7) + "/rootfs/bin/app"), "v1");
}

TEST_F(ImageStoreTest, NameMovesToTheNewImage) {
  ASSERT_TRUE(store_->Import(MakeArchive("a.tar.gz", "v1"), "app").ok());
  absl::StatusOr<ImportResult> v2 = store_->Import(MakeArchive("b.tar.gz", "v2"), "app");
  ASSERT_TRUE(v2.ok()) << v2.status();
  absl::StatusOr<ImageRecord> resolved = store_->Resolve("app");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->digest, v2->image.digest);
  const std::vector<ImageRecord> list = store_->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].digest, v2->image.digest);  // newest first
  EXPECT_THAT(list[1].names, IsEmpty());
  OpenStore();  // the move is on disk too
  EXPECT_EQ(store_->Resolve("app")->digest, v2->image.digest);
  EXPECT_THAT(store_->List()[1].names, IsEmpty());
}

TEST_F(ImageStoreTest, ResolvesByNameDigestAndPrefix) {
  absl::StatusOr<ImportResult> imported = store_->Import(MakeArchive("a.tar.gz", "x"), "web");
  ASSERT_TRUE(imported.ok());
  const std::string digest = imported->image.digest;
  const std::string hex = digest.substr(7);
  for (const std::string& ref :
       {std::string("web"), digest, hex, hex.substr(0, 12), "sha256:" + hex.substr(0, 5)}) {
    absl::StatusOr<ImageRecord> r = store_->Resolve(ref);
    ASSERT_TRUE(r.ok()) << ref << ": " << r.status();
    EXPECT_EQ(r->digest, digest) << ref;
  }
  absl::StatusOr<ImageRecord> missing = store_->Resolve("nginx");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "no such image: nginx");
  EXPECT_EQ(store_->Resolve(hex + "0").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Resolve("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageStoreTest, AmbiguousPrefixIsInvalidArgument) {
  // 17 digests cannot all start with different hex digits.
  std::map<char, std::string> by_first;
  std::string prefix;
  for (int i = 0; i < 17 && prefix.empty(); ++i) {
    absl::StatusOr<ImportResult> r =
        store_->Import(MakeArchive(absl::StrCat(i, ".tar"), absl::StrCat("v", i)), "");
    ASSERT_TRUE(r.ok()) << r.status();
    const char first = r->image.digest[7];
    if (by_first.count(first)) prefix = std::string(1, first);
    by_first[first] = r->image.digest;
  }
  ASSERT_FALSE(prefix.empty());
  absl::StatusOr<ImageRecord> r = store_->Resolve(prefix);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("ambiguous"));
}

TEST_F(ImageStoreTest, RemoveDeletesTheDirectory) {
  absl::StatusOr<ImportResult> r = store_->Import(MakeArchive("a.tar.gz", "x"), "gone");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(store_->Remove(r->image.digest).ok());
  EXPECT_THAT(ImageEntries(), IsEmpty());
  EXPECT_EQ(store_->Resolve("gone").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(store_->List(), IsEmpty());
  EXPECT_EQ(store_->Remove(r->image.digest).code(), absl::StatusCode::kNotFound);
  OpenStore();
  EXPECT_THAT(store_->List(), IsEmpty());
}

TEST_F(ImageStoreTest, OpenReloadsRecordsAndRemovesGarbage) {
  absl::StatusOr<ImportResult> r = store_->Import(MakeArchive("a.tar.gz", "x"), "keep");
  ASSERT_TRUE(r.ok());
  const std::string incomplete = ImagesDir() + "/" + std::string(64, 'a');
  ASSERT_EQ(::mkdir(incomplete.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((incomplete + "/rootfs").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((ImagesDir() + "/.tmp-crashed").c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(ImagesDir() + "/.tmp-crashed/junk", "j").ok());
  OpenStore();
  EXPECT_EQ(ImageEntries(), std::vector<std::string>{r->image.digest.substr(7)});
  absl::StatusOr<ImageRecord> kept = store_->Resolve("keep");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->digest, r->image.digest);
  EXPECT_EQ(kept->size_bytes, 1);
  EXPECT_EQ(kept->created_at_ns, r->image.created_at_ns);
}

TEST_F(ImageStoreTest, InvalidNameIsRefusedBeforeReading) {
  absl::StatusOr<ImportResult> r = store_->Import(MakeArchive("a.tar.gz", "x"), "../evil");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ImageEntries(), IsEmpty());
}

TEST_F(ImageStoreTest, ConcurrentImportsOfSameBytesBothSucceed) {
  const std::string archive = MakeArchive("a.tar.gz", std::string(1 << 20, 'c'));
  absl::StatusOr<ImportResult> results[2] = {absl::UnknownError(""), absl::UnknownError("")};
  std::thread t1([&] { results[0] = store_->Import(archive, "first"); });
  std::thread t2([&] { results[1] = store_->Import(archive, "second"); });
  t1.join();
  t2.join();
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_NE(results[0]->unpacked, results[1]->unpacked);
  EXPECT_EQ(ImageEntries().size(), 1u);
  EXPECT_EQ(store_->Resolve("first")->digest, store_->Resolve("second")->digest);
}

TEST_F(ImageStoreTest, ConcurrentImportsOfDifferentFiles) {
  const std::string a = MakeArchive("a.tar.xz", std::string(1 << 20, 'a'), Compression::kXz);
  const std::string b = MakeArchive("b.tar.zst", std::string(1 << 20, 'b'), Compression::kZstd);
  absl::StatusOr<ImportResult> ra = absl::UnknownError(""), rb = absl::UnknownError("");
  std::thread ta([&] { ra = store_->Import(a, "a"); });
  std::thread tb([&] { rb = store_->Import(b, "b"); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_TRUE(ra->unpacked);
  EXPECT_TRUE(rb->unpacked);
  EXPECT_EQ(ImageEntries().size(), 2u);
}

struct BadImport {
  std::string test_name;
  std::vector<TestEntry> entries;  // empty: `raw` is written as the file instead
  std::string raw;
  absl::StatusCode code;
  std::string message_part;  // "@S" is replaced by the sentinel dir
};

class BadImportTest : public ImageStoreTest, public ::testing::WithParamInterface<BadImport> {};

TEST_P(BadImportTest, LeavesStoreUnchanged) {
  ASSERT_TRUE(store_->Import(MakeArchive("good.tar.gz", "good"), "good").ok());
  const std::vector<std::string> before = ImageEntries();
  const std::string archive = scratch_.Sub("bad.tar");
  std::vector<TestEntry> entries = GetParam().entries;
  for (TestEntry& e : entries) {
    for (std::string* s : {&e.path, &e.target}) {
      if (const size_t at = s->find("@S"); at != std::string::npos) s->replace(at, 2, sentinel_);
    }
  }
  if (!entries.empty()) {
    ASSERT_TRUE(WriteTestArchive(archive, entries).ok());
  } else if (GetParam().code != absl::StatusCode::kNotFound) {
    ASSERT_TRUE(WriteFile(archive, GetParam().raw).ok());
  }
  absl::StatusOr<ImportResult> r = store_->Import(archive, "good");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), GetParam().code) << r.status();
  std::string part = GetParam().message_part;
  if (const size_t at = part.find("@S"); at != std::string::npos) part.replace(at, 2, sentinel_);
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("import ", archive, ": ")));
  EXPECT_THAT(r.status().message(), HasSubstr(part));
  EXPECT_EQ(ImageEntries(), before);
  EXPECT_THAT(ListNames(sentinel_), IsEmpty());
  EXPECT_EQ(store_->List().size(), 1u);
  EXPECT_THAT(store_->List()[0].names, ElementsAre("good"));
}

INSTANTIATE_TEST_SUITE_P(
    Hostile, BadImportTest,
    ::testing::Values(BadImport{"DotDot",
                                {{.path = "../../../sentinel/x", .data = "p"}},
                                "",
                                absl::StatusCode::kInvalidArgument,
                                "entry \"../../../sentinel/x\": path has a \"..\" component"},
                      BadImport{"Absolute",
                                {{.path = "@S/x", .data = "p"}},
                                "",
                                absl::StatusCode::kInvalidArgument,
                                "entry \"@S/x\": absolute path"},
                      BadImport{"SymlinkThenFile",
                                {{.path = "l", .type = EntryType::kSymlink, .target = "@S"},
                                 {.path = "l/x", .data = "p"}},
                                "",
                                absl::StatusCode::kInvalidArgument,
                                "entry \"l/x\""},
                      BadImport{"HardlinkAbsolute",
                                {{.path = "h", .type = EntryType::kHardlink, .target = "@S/x"}},
                                "",
                                absl::StatusCode::kInvalidArgument,
                                "entry \"h\": hard link target is absolute"},
                      BadImport{
                          "HardlinkDotDot",
                          {{.path = "h", .type = EntryType::kHardlink, .target = "a/../../x"}},
                          "",
                          absl::StatusCode::kInvalidArgument,
                          "entry \"h\": hard link target has a \"..\" component"},
                      BadImport{"CharDevice",
                                {{.path = "null", .type = EntryType::kCharDevice}},
                                "",
                                absl::StatusCode::kInvalidArgument,
                                "entry \"null\": device node"},
                      BadImport{"BlockDevice",
                                {{.path = "sda", .type = EntryType::kBlockDevice}},
                                "",
                                absl::StatusCode::kInvalidArgument,
                                "entry \"sda\": device node"},
                      BadImport{"NotAnArchive",
                                {},
                                std::string(2048, 'n'),
                                absl::StatusCode::kInvalidArgument,
                                "read archive: "},
                      BadImport{"TruncatedGzip",
                                {},
                                std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8) + "abc",
                                absl::StatusCode::kInvalidArgument,
                                "archive"},
                      BadImport{"Empty", {}, "", absl::StatusCode::kInvalidArgument, "empty file"},
                      BadImport{"Missing", {}, "", absl::StatusCode::kNotFound, "open archive"}),
    [](const ::testing::TestParamInfo<BadImport>& param_info) {
      return param_info.param.test_name;
    });

}  // namespace
}  // namespace quilt
