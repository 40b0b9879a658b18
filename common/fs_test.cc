#include "common/fs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace quilt {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quilt-fs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(dir_).ok()); }
  std::string Sub(const std::string& name) const { return dir_ + "/" + name; }
  std::vector<std::string> Names() const {
    std::vector<std::string> names;
    DIR* d = opendir(dir_.c_str());
    while (dirent* e = readdir(d)) {
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") {
        names.push_back(e->d_name);
      }
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string dir_;
};

TEST_F(FsTest, RemoveTreeRemovesNestedTreeWithoutFollowingSymlinks) {
  ASSERT_TRUE(MakeDirs(Sub("outside")).ok());
  ASSERT_TRUE(WriteFileAtomically(Sub("outside/keep"), "keep").ok());
  ASSERT_TRUE(MakeDirs(Sub("tree/a/b/c")).ok());
  ASSERT_TRUE(WriteFileAtomically(Sub("tree/a/b/c/file"), "x").ok());
  ASSERT_EQ(symlink(Sub("outside").c_str(), Sub("tree/a/link").c_str()), 0);
  ASSERT_EQ(mkdir(Sub("tree/ro").c_str(), 0555), 0);
  ASSERT_TRUE(RemoveTree(Sub("tree")).ok());
  EXPECT_EQ(Names(), std::vector<std::string>{"outside"});
  EXPECT_EQ(*ReadFile(Sub("outside/keep")), "keep");
  EXPECT_TRUE(RemoveTree(Sub("missing")).ok());
}

TEST_F(FsTest, WriteFileAtomicallyReplacesAndLeavesNoTempFile) {
  ASSERT_TRUE(WriteFileAtomically(Sub("record.json"), "first").ok());
  ASSERT_TRUE(WriteFileAtomically(Sub("record.json"), "second").ok());
  EXPECT_EQ(*ReadFile(Sub("record.json")), "second");
  EXPECT_EQ(Names(), std::vector<std::string>{"record.json"});
  EXPECT_EQ(WriteFileAtomically(Sub("no/such/file"), "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadFile(Sub("absent")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FsTest, MakeDirsCreatesParentsWithModeAndRefusesFiles) {
  ASSERT_TRUE(MakeDirs(Sub("x/y/z"), 0700).ok());
  ASSERT_TRUE(MakeDirs(Sub("x/y/z")).ok());
  struct stat st;
  ASSERT_EQ(stat(Sub("x/y/z").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777 & ~0022u, 0700u & ~0022u);
  ASSERT_TRUE(WriteFileAtomically(Sub("file"), "f").ok());
  EXPECT_EQ(MakeDirs(Sub("file")).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace quilt
