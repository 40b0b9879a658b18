#include "quiltd/runtime/trash.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/fs.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class TrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/trash-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { EXPECT_TRUE(RemoveTree(dir_).ok()); }

  // A small tree: <path>/a/b/file.
  void MakeTree(const std::string& path) {
    ASSERT_TRUE(MakeDirs(path + "/a/b", 0755).ok());
    std::ofstream(path + "/a/b/file") << "contents";
  }

  std::string dir_;
};

TEST_F(TrashTest, DiscardedTreeLeavesAtOnceAndIsDeleted) {
  auto trash = Trash::Open(dir_ + "/trash");
  ASSERT_TRUE(trash.ok()) << trash.status();
  MakeTree(dir_ + "/bundle");
  ASSERT_TRUE((*trash)->Discard(dir_ + "/bundle").ok());
  EXPECT_FALSE(Exists(dir_ + "/bundle"));
  (*trash)->Drain();
  EXPECT_EQ(rmdir((dir_ + "/trash").c_str()), 0) << "the trash is not empty";
}

TEST_F(TrashTest, SameNameDiscardedTwiceDoesNotCollide) {
  auto trash = Trash::Open(dir_ + "/trash");
  ASSERT_TRUE(trash.ok()) << trash.status();
  MakeTree(dir_ + "/x");
  ASSERT_TRUE((*trash)->Discard(dir_ + "/x").ok());
  MakeTree(dir_ + "/x");
  ASSERT_TRUE((*trash)->Discard(dir_ + "/x").ok());
  (*trash)->Drain();
  EXPECT_EQ(rmdir((dir_ + "/trash").c_str()), 0);
}

TEST_F(TrashTest, MissingPathFailsAndTouchesNothing) {
  auto trash = Trash::Open(dir_ + "/trash");
  ASSERT_TRUE(trash.ok()) << trash.status();
  absl::Status discarded = (*trash)->Discard(dir_ + "/absent");
  EXPECT_TRUE(absl::IsNotFound(discarded)) << discarded;
  (*trash)->Drain();
  EXPECT_EQ(rmdir((dir_ + "/trash").c_str()), 0);
}

TEST_F(TrashTest, OpenDeletesWhatAnEarlierRunLeft) {
  MakeTree(dir_ + "/trash/left.1.0");
  std::ofstream(dir_ + "/trash/loose-file") << "x";
  auto trash = Trash::Open(dir_ + "/trash");
  ASSERT_TRUE(trash.ok()) << trash.status();
  (*trash)->Drain();
  EXPECT_FALSE(Exists(dir_ + "/trash/left.1.0"));
  EXPECT_FALSE(Exists(dir_ + "/trash/loose-file"));
  EXPECT_TRUE(Exists(dir_ + "/trash"));
}

TEST_F(TrashTest, DestructorFinishesQueuedDeletions) {
  {
    auto trash = Trash::Open(dir_ + "/trash");
    ASSERT_TRUE(trash.ok()) << trash.status();
    for (const char* name : {"/one", "/two", "/three"}) {
      MakeTree(dir_ + name);
      ASSERT_TRUE((*trash)->Discard(dir_ + name).ok());
    }
  }
  EXPECT_EQ(rmdir((dir_ + "/trash").c_str()), 0) << "deletions were dropped";
}

}  // namespace
}  // namespace quilt
