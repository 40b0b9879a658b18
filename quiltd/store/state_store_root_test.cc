// Needs root: fills a tiny tmpfs, mounted in a private mount namespace of this test process
// so the mount disappears with the process whatever happens.
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/store/state_store.h"

namespace quilt {
namespace {

TEST(StateStoreRootTest, DiskFullIsResourceExhausted) {
  ASSERT_EQ(unshare(CLONE_NEWNS), 0) << "unshare(CLONE_NEWNS) needs root";
  // Keep the tmpfs from propagating back to the host's mount namespace.
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  char tmpl[] = "/tmp/state_store_root_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=256k"), 0);

  absl::Status last;
  {
    auto store = StateStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ContainerRecord r;
    r.image_digest = "sha256:aaaa";
    r.spec = std::string(8 * 1024, 's');
    for (int i = 0; i < 200 && last.ok(); ++i) {
      r.id = absl::StrCat(absl::Hex(i, absl::kZeroPad8), std::string(56, '0'));
      last = (*store)->Insert(r);
    }
  }
  EXPECT_EQ(last.code(), absl::StatusCode::kResourceExhausted) << last;
  EXPECT_THAT(last.message(), ::testing::HasSubstr("state store: disk full"));
  EXPECT_EQ(umount2(dir.c_str(), MNT_DETACH), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace quilt
