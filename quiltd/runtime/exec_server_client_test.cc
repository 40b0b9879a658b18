// quiltd's side of the exec server protocol against a fake server in a thread: no root, no
// container.
#include "quiltd/runtime/exec_server_client.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "common/fd_passing.h"
#include "common/fs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/monitor/exec_server_protocol.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

std::string ReadToEnd(int fd) {
  std::string text;
  char buffer[256];
  for (;;) {
    pollfd ready{fd, POLLIN, 0};
    if (poll(&ready, 1, 5000) != 1) return text + "<timeout>";
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return text;
    text.append(buffer, static_cast<size_t>(n));
  }
}

class ExecServerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/quilt-exec-server-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    if (server_.joinable()) server_.join();
    EXPECT_TRUE(RemoveTree(dir_).ok());
  }

  // Binds <dir>/exec.sock; listens unless `listen` is false.
  void Bind(bool listen) {
    listener_.Reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string path = dir_ + "/" + kExecServerSocketName;
    ASSERT_LT(path.size(), sizeof(address.sun_path));
    memcpy(address.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    if (listen) {
      ASSERT_EQ(::listen(listener_.get(), 4), 0);
    }
  }

  // Serves one connection with `handle(connection, request, fds, count)`.
  void Serve(std::function<void(int, const ExecServerRequest&, UniqueFd*, int)> handle) {
    server_ = std::thread([this, handle] {
      UniqueFd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      ASSERT_TRUE(connection.valid());
      ExecServerRequest request;
      UniqueFd fds[kMaxPassedFds];
      int count = 0;
      ASSERT_EQ(ReceiveFds(connection.get(), &request, sizeof(request), fds, kMaxPassedFds, &count),
                static_cast<ssize_t>(sizeof(request)));
      handle(connection.get(), request, fds, count);
    });
  }

  std::string dir_;
  UniqueFd listener_;
  std::thread server_;
};

TEST_F(ExecServerClientTest, NobodyListeningIsUnavailable) {
  EXPECT_EQ(RequestExec(dir_, "{}", ExecIo{}).status().code(), absl::StatusCode::kUnavailable);
  Bind(/*listen=*/false);  // a socket left by a server that died
  EXPECT_EQ(RequestExec(dir_, "{}", ExecIo{}).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ExecServerClientTest, AcceptedRequestRunsOnTheFdsItCarried) {
  Bind(true);
  Serve([](int connection, const ExecServerRequest& request, UniqueFd* fds, int count) {
    EXPECT_EQ(request.magic, kExecServerMagic);
    EXPECT_EQ(request.timeout_seconds, 7);
    EXPECT_EQ(request.stdin_open, 1);
    ASSERT_EQ(count, ExecServerRequestFdCount(request));
    ASSERT_EQ(count, 6);
    char config[16] = {};
    EXPECT_EQ(read(fds[0].get(), config, sizeof(config)), 7);
    EXPECT_STREQ(config, "{\"a\":1}");
    char input[8] = {};
    EXPECT_EQ(send(connection, &kExecServerAccepted, 1, 0), 1);
    EXPECT_EQ(read(fds[5].get(), input, sizeof(input)), 2);  // the stdin pipe's read end
    EXPECT_STREQ(input, "in");
    EXPECT_EQ(write(fds[1].get(), "out", 3), 3);
    EXPECT_EQ(write(fds[2].get(), "err", 3), 3);
    EXPECT_EQ(write(fds[3].get(), "exit 0 0 0\n", 11), 11);
  });
  ExecIo io;
  io.timeout_seconds = 7;
  io.stdin_open = true;
  absl::StatusOr<ExecProcess> process = RequestExec(dir_, "{\"a\":1}", io);
  ASSERT_TRUE(process.ok()) << process.status();
  EXPECT_EQ(process->pid, 0);  // nothing for quiltd to reap
  ASSERT_EQ(write(process->stdin_fd.get(), "in", 2), 2);
  server_.join();
  EXPECT_EQ(ReadToEnd(process->status_fd.get()), "exit 0 0 0\n");
  EXPECT_EQ(ReadToEnd(process->stdout_fd.get()), "out");
  EXPECT_EQ(ReadToEnd(process->stderr_fd.get()), "err");
}

TEST_F(ExecServerClientTest, ARequestLetGoIsUnavailable) {
  Bind(true);
  Serve([](int, const ExecServerRequest&, UniqueFd*, int) {});  // closes without a reply
  EXPECT_EQ(RequestExec(dir_, "{}", ExecIo{}).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ExecServerClientTest, ErrorsAndRefusalsAreReported) {
  Bind(true);
  Serve([](int connection, const ExecServerRequest&, UniqueFd*, int) {
    const char text[] = "error 11 fork exec handler: Resource temporarily unavailable";
    EXPECT_EQ(send(connection, text, sizeof(text) - 1, 0), static_cast<ssize_t>(sizeof(text) - 1));
  });
  absl::StatusOr<ExecProcess> failed = RequestExec(dir_, "{}", ExecIo{});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(failed.status().message(), HasSubstr("fork exec handler"));
  server_.join();
  Serve([](int connection, const ExecServerRequest&, UniqueFd*, int) {
    EXPECT_EQ(send(connection, &kExecServerRefused, 1, 0), 1);
  });
  absl::StatusOr<ExecProcess> refused = RequestExec(dir_, "{}", ExecIo{});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(refused.status().message(), HasSubstr("refused"));
}

TEST_F(ExecServerClientTest, TtyRequestCarriesTheTerminalSocket) {
  Bind(true);
  Serve([](int connection, const ExecServerRequest& request, UniqueFd* fds, int count) {
    EXPECT_EQ(request.tty, 1);
    EXPECT_EQ(request.rows, 24);
    EXPECT_EQ(request.columns, 80);
    ASSERT_EQ(count, 6);
    EXPECT_EQ(send(connection, &kExecServerAccepted, 1, 0), 1);
    // The terminal socket: what the handler sends the master over.
    UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    const char tag = 't';
    EXPECT_TRUE(SendFd(fds[5].get(), null.get(), &tag, 1));
  });
  ExecIo io;
  io.tty = true;
  io.rows = 24;
  io.columns = 80;
  absl::StatusOr<ExecProcess> process = RequestExec(dir_, "{}", io);
  ASSERT_TRUE(process.ok()) << process.status();
  absl::StatusOr<UniqueFd> master = ReceiveExecTerminal(process->terminal_socket.get());
  EXPECT_TRUE(master.ok()) << master.status();
}

}  // namespace
}  // namespace quilt
