// Copies through a directory standing in for a container's root, with the symlink tricks a
// hostile container would plant: nothing outside the root may be read or written.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/copy/copy_in.h"
#include "quiltd/copy/path_in_root.h"
#include "quiltd/copy/tar_extractor.h"
#include "quiltd/copy/tar_writer.h"
#include "quiltd/copy/writeback.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  while (struct dirent* e = ::readdir(d.get())) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  return names;
}

// One tar entry for TarOf.
struct Entry {
  std::string name;
  mode_t type;  // AE_IFREG, AE_IFDIR, AE_IFLNK, or 0 for a hard link to `target`
  std::string data_or_target;
};

std::string TarOf(const std::vector<Entry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(
      a, &out, nullptr,
      [](struct archive*, void* c, const void* b, size_t n) -> la_ssize_t {
        static_cast<std::string*>(c)->append(static_cast<const char*>(b), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const Entry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_perm(entry, 0644);
    if (e.type == 0) {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_hardlink(entry, e.data_or_target.c_str());
    } else {
      archive_entry_set_filetype(entry, e.type);
    }
    if (e.type == AE_IFLNK) archive_entry_set_symlink(entry, e.data_or_target.c_str());
    if (e.type == AE_IFREG) archive_entry_set_size(entry, e.data_or_target.size());
    archive_write_header(a, entry);
    if (e.type == AE_IFREG) archive_write_data(a, e.data_or_target.data(), e.data_or_target.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

ChunkSource SourceOf(std::string bytes) {
  return [bytes = std::move(bytes), done = false](std::string* chunk) mutable {
    chunk->clear();
    if (!done) *chunk = bytes;
    done = true;
    return absl::OkStatus();
  };
}

class TarCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quilt-copy-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    host_ = dir_ + "/host";
    ASSERT_EQ(::mkdir(root_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(host_.c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/etc").c_str(), 0755), 0);
    Write(host_ + "/secret", "host secret");
    root_fd_.Reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }

  // The host side is exactly as SetUp left it.
  void ExpectHostUntouched() {
    EXPECT_EQ(Slurp(host_ + "/secret"), "host secret");
    EXPECT_THAT(Names(host_), ::testing::ElementsAre("secret"));
  }

  absl::StatusOr<std::string> CopyIn(const std::string& path, const std::string& source_name,
                                     const std::vector<Entry>& entries) {
    return CopyIntoRoot(root_fd_.get(), path, source_name, SourceOf(TarOf(entries)));
  }

  absl::StatusOr<std::string> CopyOut(const std::string& path) {
    QUILT_ASSIGN_OR_RETURN(TarSource source, OpenTarSource(root_fd_.get(), path));
    std::string tar;
    QUILT_RETURN_IF_ERROR(WriteTar(source, [&tar](absl::string_view b) {
      tar.append(b.data(), b.size());
      return absl::OkStatus();
    }));
    return tar;
  }

  std::string dir_, root_, host_;
  UniqueFd root_fd_;
};

TEST_F(TarCopyTest, RoundTripKeepsModesTimesLinks) {
  const std::string src = root_ + "/src";
  ASSERT_EQ(::mkdir(src.c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((src + "/sub").c_str(), 0700), 0);
  Write(src + "/sub/tool", "#!/bin/sh\n", 04755);
  Write(src + "/a", "alpha", 0600);
  ASSERT_EQ(::link((src + "/a").c_str(), (src + "/a2").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (src + "/ln").c_str()), 0);
  const timespec times[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src + "/a").c_str(), times, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, src.c_str(), times, 0), 0);

  absl::StatusOr<std::string> tar = CopyOut("/src");
  ASSERT_TRUE(tar.ok()) << tar.status();
  ASSERT_TRUE(CopyIntoRoot(root_fd_.get(), "/copy", "src", SourceOf(*tar)).ok());

  const std::string dst = root_ + "/copy";
  struct stat st;
  ASSERT_EQ(::stat(dst.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  ASSERT_EQ(::stat((dst + "/sub/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  ASSERT_EQ(::stat((dst + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(Slurp(dst + "/a2"), "alpha");
  char target[64] = {};
  ASSERT_GT(::readlink((dst + "/ln").c_str(), target, sizeof(target) - 1), 0);
  EXPECT_STREQ(target, "/etc/passwd");
}

TEST_F(TarCopyTest, CopyIntoDirectoryOrAsPath) {
  ASSERT_EQ(*CopyIn("/etc", "f", {{"f", AE_IFREG, "one"}}), "/etc/f");
  EXPECT_EQ(Slurp(root_ + "/etc/f"), "one");
  ASSERT_EQ(*CopyIn("/etc/g", "f", {{"f", AE_IFREG, "two"}}), "/etc/g");
  EXPECT_EQ(Slurp(root_ + "/etc/g"), "two");
  // An existing file is replaced.
  ASSERT_TRUE(CopyIn("/etc/g", "f", {{"f", AE_IFREG, "three"}}).ok());
  EXPECT_EQ(Slurp(root_ + "/etc/g"), "three");
  EXPECT_TRUE(absl::IsNotFound(CopyIn("/missing/g", "f", {{"f", AE_IFREG, "x"}}).status()));
  EXPECT_TRUE(absl::IsNotFound(CopyIn("/missing", "", {{"f", AE_IFREG, "x"}}).status()));
  EXPECT_TRUE(absl::IsNotFound(CopyOut("/missing").status()));
}

// A symlink the container planted at the destination, pointing at a host file by absolute
// path or by a ".." chain, is replaced, never written through.
TEST_F(TarCopyTest, SymlinkAtDestinationIsNotFollowedOut) {
  ASSERT_EQ(::symlink((host_ + "/secret").c_str(), (root_ + "/etc/x").c_str()), 0);
  ASSERT_EQ(
      ::symlink(("../../../../../../.." + host_ + "/secret").c_str(), (root_ + "/etc/y").c_str()),
      0);
  ASSERT_TRUE(CopyIn("/etc/x", "f", {{"f", AE_IFREG, "evil"}}).ok());
  ASSERT_TRUE(CopyIn("/etc/y", "f", {{"f", AE_IFREG, "evil"}}).ok());
  ExpectHostUntouched();
  EXPECT_EQ(Slurp(root_ + "/etc/x"), "evil");
}

// A symlinked parent directory resolves inside the root, where the host path does not exist.
TEST_F(TarCopyTest, SymlinkedParentStaysInRoot) {
  ASSERT_EQ(::symlink(host_.c_str(), (root_ + "/d").c_str()), 0);
  ASSERT_EQ(::symlink(("../../../../.." + host_).c_str(), (root_ + "/etc/up").c_str()), 0);
  EXPECT_TRUE(absl::IsNotFound(CopyIn("/d/new", "f", {{"f", AE_IFREG, "evil"}}).status()));
  EXPECT_TRUE(absl::IsNotFound(CopyIn("/etc/up/", "f", {{"f", AE_IFREG, "evil"}}).status()));
  EXPECT_TRUE(absl::IsNotFound(CopyOut("/d/secret").status()));
  EXPECT_TRUE(absl::IsNotFound(CopyOut("/etc/up/secret").status()));
  ExpectHostUntouched();
}

// Copying a symlink out archives the link, not the host file it names.
TEST_F(TarCopyTest, CopyOutOfSymlinkArchivesTheLink) {
  ASSERT_EQ(::symlink((host_ + "/secret").c_str(), (root_ + "/etc/leak").c_str()), 0);
  absl::StatusOr<std::string> tar = CopyOut("/etc/leak");
  ASSERT_TRUE(tar.ok()) << tar.status();
  EXPECT_THAT(*tar, ::testing::Not(HasSubstr("host secret")));
  absl::StatusOr<std::string> all = CopyOut("/etc/.");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(*all, ::testing::Not(HasSubstr("host secret")));
}

TEST_F(TarCopyTest, HostileEntriesAreRefused) {
  ASSERT_EQ(::symlink(host_.c_str(), (root_ + "/etc/out").c_str()), 0);
  const std::vector<std::vector<Entry>> attacks = {
      {{"../evil", AE_IFREG, "x"}},
      {{"/evil", AE_IFREG, "x"}},
      {{"a/../../evil", AE_IFREG, "x"}},
      // A symlink made by the archive, then written through.
      {{"l", AE_IFLNK, host_}, {"l/evil", AE_IFREG, "x"}},
      // A symlink planted by the container, written through.
      {{"out/evil", AE_IFREG, "x"}},
      {{"h", 0, "../../secret"}},
      {{"h", 0, "out/secret"}},
  };
  for (const auto& attack : attacks) {
    absl::StatusOr<std::string> result = CopyIn("/etc", "", attack);
    EXPECT_TRUE(absl::IsInvalidArgument(result.status()))
        << attack.back().name << ": " << result.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(
      CopyIn("/etc", "f", {{"f", AE_IFREG, "ok"}, {"g", AE_IFREG, "outside"}}).status()));
  ExpectHostUntouched();
}

// The writer keeps the last parent directory open: entries that leave a directory and come
// back, directories listed after their files and files listed twice still land in place.
TEST_F(TarCopyTest, EntriesInAnyOrderLandInPlace) {
  ASSERT_TRUE(CopyIn("/etc", "",
                     {{"a/x", AE_IFREG, "ax"},
                      {"b/c/y", AE_IFREG, "bcy"},
                      {"a/z", AE_IFREG, "az"},
                      {"b/c", AE_IFDIR, ""},
                      {"a/x", AE_IFREG, "ax again"},
                      {"top", AE_IFREG, "top"},
                      {"b/c/w", AE_IFREG, "bcw"}})
                  .ok());
  EXPECT_EQ(Slurp(root_ + "/etc/a/x"), "ax again");
  EXPECT_EQ(Slurp(root_ + "/etc/a/z"), "az");
  EXPECT_EQ(Slurp(root_ + "/etc/b/c/y"), "bcy");
  EXPECT_EQ(Slurp(root_ + "/etc/b/c/w"), "bcw");
  EXPECT_EQ(Slurp(root_ + "/etc/top"), "top");
  struct stat st;
  ASSERT_EQ(::stat((root_ + "/etc/b/c").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u) << "the listed directory's mode, applied at the end";
}

// A directory the writer holds open cannot be swapped for a symlink by a later entry.
TEST_F(TarCopyTest, OpenDirectoryIsNotReplacedByALink) {
  absl::StatusOr<std::string> result =
      CopyIn("/etc", "", {{"d/f", AE_IFREG, "x"}, {"d", AE_IFLNK, host_}, {"d/g", AE_IFREG, "y"}});
  EXPECT_TRUE(absl::IsInvalidArgument(result.status())) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr("cannot overwrite a directory"));
  ExpectHostUntouched();
}

// Files handed to the disk early are written whole; the queue's descriptors are all closed.
TEST_F(TarCopyTest, WritebackKeepsDataAndClosesEverything) {
  const size_t fds_before = Names("/proc/self/fd").size();
  {
    Writeback writeback;
    for (int i = 0; i < 600; ++i) {
      const std::string path = absl::StrCat(root_, "/etc/f", i);
      Write(path, absl::StrCat("data ", i));
      writeback.Start(UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
    }
  }
  EXPECT_EQ(Names("/proc/self/fd").size(), fds_before);
  for (int i = 0; i < 600; ++i) {
    EXPECT_EQ(Slurp(absl::StrCat(root_, "/etc/f", i)), absl::StrCat("data ", i));
  }
}

}  // namespace
}  // namespace quilt
