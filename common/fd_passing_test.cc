#include "common/fd_passing.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace quilt {
namespace {

struct SocketPair {
  UniqueFd a, b;
};

SocketPair Seqpacket() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

TEST(FdPassingTest, SeveralFdsArriveInOrderAndCloseOnExec) {
  SocketPair pair = Seqpacket();
  int pipes[2][2];
  ASSERT_EQ(pipe(pipes[0]), 0);
  ASSERT_EQ(pipe(pipes[1]), 0);
  const int sent[] = {pipes[0][1], pipes[1][1]};
  ASSERT_TRUE(SendFds(pair.a.get(), sent, 2, "hi", 2));
  char data[8] = {};
  UniqueFd received[kMaxPassedFds];
  int count = 0;
  ASSERT_EQ(ReceiveFds(pair.b.get(), data, sizeof(data), received, kMaxPassedFds, &count), 2);
  EXPECT_STREQ(data, "hi");
  ASSERT_EQ(count, 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(fcntl(received[i].get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ASSERT_EQ(write(received[i].get(), "x", 1), 1);
    char byte = 0;
    ASSERT_EQ(read(pipes[i][0], &byte, 1), 1);  // the received fd is the pipe sent at i
  }
  for (auto& p : pipes) {
    close(p[0]);
    close(p[1]);
  }
}

TEST(FdPassingTest, MoreFdsThanTheReceiverTakesIsAnError) {
  SocketPair pair = Seqpacket();
  UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int sent[] = {null.get(), null.get(), null.get()};
  ASSERT_TRUE(SendFds(pair.a.get(), sent, 3, "x", 1));
  char data = 0;
  UniqueFd received[2];
  int count = 0;
  EXPECT_EQ(ReceiveFds(pair.b.get(), &data, 1, received, 2, &count), -1);
  EXPECT_EQ(errno, EMSGSIZE);
}

TEST(FdPassingTest, NoFdsAndEof) {
  SocketPair pair = Seqpacket();
  ASSERT_TRUE(SendFds(pair.a.get(), nullptr, 0, "y", 1));
  pair.a.Reset();
  char data = 0;
  UniqueFd received[1];
  int count = -1;
  EXPECT_EQ(ReceiveFds(pair.b.get(), &data, 1, received, 1, &count), 1);
  EXPECT_EQ(count, 0);
  EXPECT_EQ(ReceiveFds(pair.b.get(), &data, 1, received, 1, &count), 0);
}

}  // namespace
}  // namespace quilt
