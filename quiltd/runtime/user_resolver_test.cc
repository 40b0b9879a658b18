#include "quiltd/runtime/user_resolver.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "common/fs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class UserResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quilt-user-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(MakeDirs(root_ + "/etc", 0755).ok());
    Write("/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\n"
          "app:x:1000:1000:app:/home/app:/bin/sh\n"
          "broken line\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    Write("/etc/group", "root:x:0:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:app\n");
  }
  void TearDown() override { ASSERT_TRUE(RemoveTree(root_).ok()); }
  void Write(const std::string& path, const std::string& text) {
    std::ofstream(root_ + path) << text;
  }
  std::string root_;
};

TEST_F(UserResolverTest, EmptyIsRoot) {
  auto user = ResolveUser({root_}, "");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->uid, 0u);
  EXPECT_EQ(user->gid, 0u);
  EXPECT_EQ(user->home, "/root");
}

TEST_F(UserResolverTest, NameGivesIdsHomeAndMemberGroups) {
  auto user = ResolveUser({root_}, "app");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->uid, 1000u);
  EXPECT_EQ(user->gid, 1000u);
  EXPECT_EQ(user->home, "/home/app");
  EXPECT_THAT(user->additional_gids, ElementsAre(10u, 29u));
}

TEST_F(UserResolverTest, NumericAndGroupForms) {
  auto numeric = ResolveUser({root_}, "1234:5678");
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(numeric->uid, 1234u);
  EXPECT_EQ(numeric->gid, 5678u);
  auto known_uid = ResolveUser({root_}, "65534");
  ASSERT_TRUE(known_uid.ok());
  EXPECT_EQ(known_uid->gid, 65534u);
  auto named_group = ResolveUser({root_}, "app:wheel");
  ASSERT_TRUE(named_group.ok());
  EXPECT_EQ(named_group->gid, 10u);
}

TEST_F(UserResolverTest, UnknownNamesAreInvalidArgument) {
  for (const char* bad : {"ghost", "app:ghosts", ":0", "12x"}) {
    auto user = ResolveUser({root_}, bad);
    EXPECT_EQ(user.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(user.status().message(), HasSubstr("spec.user")) << bad;
  }
}

// An image whose /etc/passwd is a symlink to an absolute path must be read inside the
// image, never the host's file.
TEST_F(UserResolverTest, SymlinkedPasswdStaysInsideRootfs) {
  ASSERT_EQ(unlink((root_ + "/etc/passwd").c_str()), 0);
  ASSERT_TRUE(MakeDirs(root_ + "/alt", 0755).ok());
  Write("/alt/passwd", "inside:x:4242:4242::/in:/bin/sh\n");
  ASSERT_EQ(symlink("/alt/passwd", (root_ + "/etc/passwd").c_str()), 0);
  auto inside = ResolveUser({root_}, "inside");
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(inside->uid, 4242u);
  ASSERT_EQ(unlink((root_ + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(symlink("/etc/passwd", (root_ + "/etc/passwd").c_str()), 0);
  // The host's /etc/passwd has "root"; inside the rootfs the link points to itself.
  EXPECT_FALSE(ResolveUser({root_}, "root").ok());
}

TEST_F(UserResolverTest, UpperLayersWinAndWhiteoutsHideLowerFiles) {
  const std::string upper = root_ + "/upper";
  ASSERT_TRUE(MakeDirs(upper + "/etc", 0755).ok());
  std::ofstream(upper + "/etc/passwd") << "app:x:2000:2000:app:/srv:/bin/sh\n";
  auto app = ResolveUser({upper, root_}, "app");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->uid, 2000u);
  EXPECT_EQ(app->home, "/srv");
  // /etc/group is only in the lower layer: still found there.
  auto grouped = ResolveUser({upper, root_}, "app:wheel");
  ASSERT_TRUE(grouped.ok()) << grouped.status();
  EXPECT_EQ(grouped->gid, 10u);

  if (geteuid() != 0) GTEST_SKIP() << "a whiteout (0/0 device node) needs CAP_MKNOD";
  ASSERT_EQ(unlink((upper + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(mknod((upper + "/etc/passwd").c_str(), S_IFCHR, makedev(0, 0)), 0);
  EXPECT_FALSE(ResolveUser({upper, root_}, "app").ok());
  EXPECT_TRUE(ResolveUser({root_}, "app").ok());
}

}  // namespace
}  // namespace quilt
