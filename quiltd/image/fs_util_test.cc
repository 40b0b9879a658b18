#include "quiltd/image/fs_util.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gtest/gtest.h"
#include "quiltd/image/test_archive.h"

namespace quilt {
namespace {

using ::quilt::testing::ListNames;
using ::quilt::testing::ReadFile;
using ::quilt::testing::ScratchDir;
using ::quilt::testing::WriteFile;

TEST(RemoveTreeTest, RemovesNestedTreeWithoutFollowingSymlinks) {
  ScratchDir scratch;
  const std::string outside = scratch.Sub("outside");
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  ASSERT_TRUE(WriteFile(outside + "/keep", "keep").ok());
  const std::string tree = scratch.Sub("tree");
  ASSERT_TRUE(MakeDirs(tree + "/a/b/c").ok());
  ASSERT_TRUE(WriteFile(tree + "/a/b/c/file", "x").ok());
  ASSERT_TRUE(WriteFile(tree + "/a/top", "y").ok());
  ASSERT_EQ(::symlink(outside.c_str(), (tree + "/a/link").c_str()), 0);
  ASSERT_EQ(::mkdir((tree + "/ro").c_str(), 0555), 0);

  ASSERT_TRUE(RemoveTree(tree).ok());
  EXPECT_EQ(ListNames(scratch.path()), std::vector<std::string>{"outside"});
  EXPECT_EQ(*ReadFile(outside + "/keep"), "keep");
}

TEST(RemoveTreeTest, MissingPathIsOk) {
  ScratchDir scratch;
  EXPECT_TRUE(RemoveTree(scratch.Sub("missing")).ok());
}

TEST(WriteFileAtomicTest, ReplacesContentsAndLeavesNoTempFile) {
  ScratchDir scratch;
  const std::string path = scratch.Sub("record.json");
  ASSERT_TRUE(WriteFileAtomic(path, "first").ok());
  ASSERT_TRUE(WriteFileAtomic(path, "second").ok());
  EXPECT_EQ(*ReadFile(path), "second");
  EXPECT_EQ(ListNames(scratch.path()), std::vector<std::string>{"record.json"});
}

TEST(WriteFileAtomicTest, FailsInMissingDirectory) {
  ScratchDir scratch;
  const absl::Status status = WriteFileAtomic(scratch.Sub("no/such/file"), "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
}

TEST(MakeDirsTest, CreatesParentsAndRefusesFiles) {
  ScratchDir scratch;
  ASSERT_TRUE(MakeDirs(scratch.Sub("x/y/z")).ok());
  ASSERT_TRUE(MakeDirs(scratch.Sub("x/y/z")).ok());
  struct stat st;
  ASSERT_EQ(::stat(scratch.Sub("x/y/z").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_TRUE(WriteFile(scratch.Sub("file"), "f").ok());
  EXPECT_FALSE(MakeDirs(scratch.Sub("file")).ok());
}

}  // namespace
}  // namespace quilt
