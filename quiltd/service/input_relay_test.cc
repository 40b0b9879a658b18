#include "quiltd/service/input_relay.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

class InputRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wake_.Reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    read_end_.Reset(fds[0]);
    write_end_.Reset(fds[1]);
  }

  std::string Drain() {
    std::string out;
    char buffer[65536];
    ssize_t n;
    while ((n = read(read_end_.get(), buffer, sizeof(buffer))) > 0) out.append(buffer, n);
    return out;
  }

  static v1::TerminalInput Data(const std::string& bytes) {
    v1::TerminalInput input;
    input.set_stdin_data(bytes);
    return input;
  }

  UniqueFd wake_, read_end_, write_end_;
  int reads_started_ = 0;
};

TEST_F(InputRelayTest, WritesInOrderAndReadsOnlyWhenDrained) {
  InputRelay relay(wake_.get(), [this] { ++reads_started_; });
  relay.Connect(true, std::move(write_end_), -1, nullptr);
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_EQ(reads_started_, 1);
  relay.Add(Data("hello "));
  ASSERT_TRUE(relay.Flush().ok());
  relay.Add(Data("world"));
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_EQ(reads_started_, 3);
  EXPECT_EQ(Drain(), "hello world");
  // More than the pipe holds: the next read waits until the reader made room.
  relay.Add(Data(std::string(1 << 20, 'x')));
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_EQ(reads_started_, 3);
  EXPECT_GE(relay.BlockedFd(), 0);
  size_t total = 0;
  while (relay.BlockedFd() >= 0) {
    total += Drain().size();
    ASSERT_TRUE(relay.Flush().ok());
  }
  total += Drain().size();
  EXPECT_EQ(total, size_t{1} << 20);
  EXPECT_EQ(reads_started_, 4);
}

TEST_F(InputRelayTest, CloseAfterTheBytesBeforeIt) {
  bool closed = false;
  InputRelay relay(wake_.get(), [this] { ++reads_started_; });
  relay.Connect(true, std::move(write_end_), -1, [&closed] { closed = true; });
  relay.Add(Data("last"));
  v1::TerminalInput close;
  close.set_close_stdin(true);
  relay.Add(close);
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_TRUE(closed);
  EXPECT_EQ(Drain(), "last");
  char byte;
  EXPECT_EQ(read(read_end_.get(), &byte, 1), 0);  // EOF: the relay's write end is closed
  relay.Add(Data("more"));
  EXPECT_THAT(relay.Flush().message(), HasSubstr("stdin was already closed"));
}

TEST_F(InputRelayTest, HalfCloseEndsStdinAndReading) {
  InputRelay relay(wake_.get(), [this] { ++reads_started_; });
  relay.Connect(true, std::move(write_end_), -1, nullptr);
  relay.AddEnd();
  ASSERT_TRUE(relay.Flush().ok());
  EXPECT_EQ(reads_started_, 0);
  char byte;
  EXPECT_EQ(read(read_end_.get(), &byte, 1), 0);
}

TEST_F(InputRelayTest, RefusesStdinWithoutStdinOpenAndBadSizes) {
  InputRelay relay(wake_.get(), [this] { ++reads_started_; });
  relay.Connect(false, UniqueFd(), -1, nullptr);
  relay.Add(Data("x"));
  absl::Status status = relay.Flush();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("input.stdin_data"));

  InputRelay sized(wake_.get(), [this] { ++reads_started_; });
  sized.Connect(false, UniqueFd(), -1, nullptr);
  v1::TerminalInput resize;
  resize.mutable_resize()->set_rows(1 << 17);
  sized.Add(resize);
  EXPECT_THAT(sized.Flush().message(), HasSubstr("input.resize.rows"));
}

}  // namespace
}  // namespace quilt
