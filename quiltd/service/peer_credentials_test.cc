#include "quiltd/service/peer_credentials.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"
#include "gtest/gtest.h"
#include "quiltd/service/api_access.h"

namespace quilt {
namespace {

TEST(PeerCredentialsTest, ReadsTheConnectingProcess) {
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  absl::StatusOr<PeerCredentials> peer = PeerCredentialsOf(a.get());
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->pid, getpid());
  EXPECT_EQ(peer->uid, geteuid());
  EXPECT_EQ(peer->gid, getegid());
  absl::StatusOr<PeerCredentials> by_call = PeerCredentialsOfCall(absl::StrCat("fd:", a.get()));
  ASSERT_TRUE(by_call.ok()) << by_call.status();
  EXPECT_EQ(by_call->pid, getpid());
  EXPECT_EQ(DescribePeer({12, 34, 56}), "pid=12 uid=34 gid=56");
}

TEST(PeerCredentialsTest, OnlyFdPeersHaveCredentials) {
  EXPECT_EQ(PeerCredentialsOfCall("unix:/run/quilt.sock").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(PeerCredentialsOfCall("fd:x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(PeerCredentialsOfCall("fd:99999").ok()) << "not an open fd";
}

TEST(PeerCredentialsTest, RootOrTheGroupMayUseTheApi) {
  // pid 0 has no /proc entry, so no supplementary groups are found.
  EXPECT_TRUE(MayUseApi({0, 0, 0}, std::nullopt));
  EXPECT_FALSE(MayUseApi({0, 1000, 1000}, std::nullopt));
  EXPECT_TRUE(MayUseApi({0, 1000, 1234}, gid_t{1234}));
  EXPECT_FALSE(MayUseApi({0, 1000, 1000}, gid_t{1234}));
}

TEST(PeerCredentialsTest, LooksUpGroupsInTheFile) {
  char path[] = "/tmp/group-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "root:x:0:\nquiltish:x:7:\nquilt:x:998:alice,bob\nbad:x:y:\n";
  EXPECT_EQ(LookUpGroup(path, "quilt"), gid_t{998});
  EXPECT_EQ(LookUpGroup(path, "root"), gid_t{0});
  EXPECT_EQ(LookUpGroup(path, "quil"), std::nullopt);
  EXPECT_EQ(LookUpGroup(path, "bad"), std::nullopt);
  unlink(path);
  EXPECT_EQ(LookUpGroup(path, "quilt"), std::nullopt);
}

TEST(ApiAccessTest, EverythingButReadsIsMutating) {
  EXPECT_TRUE(IsReadOnlyMethod("/quilt.v1.Containers/Get"));
  EXPECT_TRUE(IsReadOnlyMethod("/quilt.v1.Containers/Logs"));
  EXPECT_TRUE(IsReadOnlyMethod("/quilt.v1.Containers/Top"));
  EXPECT_TRUE(IsReadOnlyMethod("/quilt.v1.System/Version"));
  for (const char* method :
       {"/quilt.v1.Containers/Create", "/quilt.v1.Containers/Exec", "/quilt.v1.Containers/Kill",
        "/quilt.v1.Images/Import", "/quilt.v1.Images/RemoveImage", "/quilt.v1.Containers/New"}) {
    EXPECT_FALSE(IsReadOnlyMethod(method)) << method;
  }
}

}  // namespace
}  // namespace quilt
