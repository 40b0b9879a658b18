// Tests that need root: a small tmpfs makes the disk full on demand; whiteouts are device
// nodes and trusted.* xattrs, checked through a real overlay mount.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/image/image_store.h"
#include "quiltd/image/test_archive.h"
#include "quiltd/image/test_image_layout.h"

namespace quilt {
namespace {

using ::quilt::testing::ListNames;
using ::quilt::testing::ScratchDir;
using ::quilt::testing::TestEntry;
using ::quilt::testing::WriteTestArchive;

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "mounting a tmpfs needs root (CI runs as root)";
    // A private mount namespace keeps the tmpfs out of the host's mount table, which other
    // tests running in parallel compare before and after.
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    ASSERT_EQ(::mkdir(state_.c_str(), 0755), 0);
    ASSERT_EQ(::mount("tmpfs", state_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=256k"), 0);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      ASSERT_EQ(::umount2(state_.c_str(), MNT_DETACH), 0);
    }
  }

  ScratchDir scratch_;
  const std::string state_ = scratch_.Sub("state");
  bool mounted_ = false;
};

TEST_F(FullDiskTest, ImportIsResourceExhaustedAndLeavesNothing) {
  const std::string archive = scratch_.Sub("big.tar");
  ASSERT_TRUE(
      WriteTestArchive(archive, {TestEntry{.path = "big", .data = std::string(1 << 20, 'b')}})
          .ok());
  absl::StatusOr<std::unique_ptr<ImageStore>> store = ImageStore::Open(state_);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<ImportResult> r = (*store)->Import(archive, "big");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(std::string(r.status().message()), ::testing::HasSubstr("entry \"big\""));
  EXPECT_THAT(ListNames(state_ + "/images"), ::testing::ElementsAre("layers"));
  EXPECT_THAT(ListNames(state_ + "/images/layers"), ::testing::IsEmpty());
  EXPECT_THAT((*store)->List(), ::testing::IsEmpty());
}

// Layers with whiteouts, mounted the way the monitor mounts a container's rootfs.
class WhiteoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "whiteouts and overlay mounts need root (CI runs as root)";
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    auto store = ImageStore::Open(scratch_.Sub("state"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override {
    if (mounted_) {
      ASSERT_EQ(::umount2(merged_.c_str(), MNT_DETACH), 0);
    }
  }

  // Mounts the image's layers read-only at merged_.
  void Mount(const std::vector<std::string>& lower) {
    ASSERT_EQ(::mkdir(merged_.c_str(), 0755), 0);
    const std::string options = "lowerdir=" + absl::StrJoin(lower, ":");
    ASSERT_EQ(::mount("overlay", merged_.c_str(), "overlay", MS_RDONLY, options.c_str()), 0)
        << strerror(errno);
    mounted_ = true;
  }

  ScratchDir scratch_;
  std::unique_ptr<ImageStore> store_;
  const std::string merged_ = scratch_.Sub("merged");
  bool mounted_ = false;
};

TEST_F(WhiteoutTest, WhiteoutsAndOpaqueDirectoriesHideLowerLayers) {
  testing::TestImage image;
  image.layers = {
      {TestEntry{.path = "bin/ls", .data = "ls"}, TestEntry{.path = "etc/keep", .data = "k"},
       TestEntry{.path = "etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n"},
       TestEntry{.path = "cache/old", .data = "o"}},
      {TestEntry{.path = "bin/.wh.ls"}, TestEntry{.path = "etc/.wh.passwd"},
       TestEntry{.path = "cache/.wh..wh..opq"}, TestEntry{.path = "cache/new", .data = "n"}}};
  const std::string layout = scratch_.Sub("layout");
  ASSERT_TRUE(testing::WriteOciLayout(layout, {image}).ok());
  auto imported = store_->Import(layout, "");
  ASSERT_TRUE(imported.ok()) << imported.status();
  auto lower = store_->LowerDirs(imported->image.digest);
  ASSERT_TRUE(lower.ok()) << lower.status();
  // The top layer holds the overlayfs forms, not the .wh. files.
  struct stat st;
  ASSERT_EQ(::lstat(((*lower)[0] + "/bin/ls").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  EXPECT_NE(::lstat(((*lower)[0] + "/bin/.wh.ls").c_str(), &st), 0);
  char opaque = 0;
  EXPECT_EQ(::getxattr(((*lower)[0] + "/cache").c_str(), "trusted.overlay.opaque", &opaque, 1), 1);
  EXPECT_EQ(opaque, 'y');

  ASSERT_NO_FATAL_FAILURE(Mount(*lower));
  EXPECT_THAT(ListNames(merged_ + "/bin"), ::testing::IsEmpty());
  EXPECT_THAT(ListNames(merged_ + "/etc"), ::testing::ElementsAre("keep"));
  EXPECT_THAT(ListNames(merged_ + "/cache"), ::testing::ElementsAre("new"));
}

TEST_F(WhiteoutTest, WhiteoutThroughASymlinkIsRefused) {
  const std::string outside = scratch_.Sub("outside");
  ASSERT_EQ(::mkdir(outside.c_str(), 0755), 0);
  testing::TestImage image;
  image.layers = {
      {TestEntry{.path = "link", .type = testing::EntryType::kSymlink, .target = outside},
       TestEntry{.path = "link/.wh.victim"}}};
  const std::string layout = scratch_.Sub("layout");
  ASSERT_TRUE(testing::WriteOciLayout(layout, {image}).ok());
  auto imported = store_->Import(layout, "");
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument) << imported.status();
  EXPECT_THAT(ListNames(outside), ::testing::IsEmpty());
  EXPECT_THAT(ListNames(scratch_.Sub("state/images/layers")), ::testing::IsEmpty());
}

}  // namespace
}  // namespace quilt
