// Tests that need root: a small tmpfs makes the disk full on demand.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/image/image_store.h"
#include "quiltd/image/test_archive.h"

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
  EXPECT_THAT(ListNames(state_ + "/images"), ::testing::IsEmpty());
  EXPECT_THAT((*store)->List(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace quilt
