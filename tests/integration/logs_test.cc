// Log capture: nothing lost, nothing duplicated, in order, while following.
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

class LogsTest : public QuiltdTest {};

void ExpectNumberedLines(const std::string& text, int count) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  ASSERT_EQ(lines.size(), static_cast<size_t>(count) + 1) << "last line should end with \\n";
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(lines[i], absl::StrCat(i + 1)) << "line " << i + 1;
  }
}

TEST_F(LogsTest, FollowDelivers100kLinesInOrder) {
  v1::Container c = Run(Spec({"seq", "1", "100000"}));
  // Follow from the start while the container is still writing.
  const std::string followed = Logs(c.id(), v1::LOG_STREAM_UNSPECIFIED, /*follow=*/true);
  ExpectNumberedLines(followed, 100000);
  EXPECT_EQ(WaitFor(c.id()).exit_code(), 0);
  ExpectNumberedLines(Logs(c.id()), 100000);
}

TEST_F(LogsTest, SlowWriterIsFollowedLive) {
  v1::Container c =
      Run(Spec({"sh", "-c", "for i in $(seq 1 20); do echo $i; sleep 0.05; done; printf partial"}));
  const std::string followed = Logs(c.id(), v1::LOG_STREAM_UNSPECIFIED, /*follow=*/true);
  std::string expected;
  for (int i = 1; i <= 20; ++i) absl::StrAppend(&expected, i, "\n");
  EXPECT_EQ(followed, expected + "partial");
}

TEST_F(LogsTest, ManyConcurrentFollowersEachGetEverything) {
  v1::Container c = Run(Spec({"sh", "-c", "sleep 0.3; seq 1 5000"}));
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { results[i] = Logs(c.id(), v1::LOG_STREAM_UNSPECIFIED, true); });
  }
  for (auto& t : threads) t.join();
  for (const std::string& r : results) ExpectNumberedLines(r, 5000);
}

TEST_F(LogsTest, TailAndAbandonedFollowers) {
  v1::Container c = Run(Spec({"sh", "-c", "seq 1 10; sleep 1000"}));
  // Clients that start following and vanish must not disturb anything.
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    v1::LogsRequest request;
    request.set_ref(c.id());
    request.set_follow(true);
    auto reader = containers_->Logs(&ctx, request);
    v1::LogsResponse response;
    reader->Read(&response);
    ctx.TryCancel();
  }
  grpc::ClientContext ctx;
  v1::LogsRequest request;
  request.set_ref(c.id());
  request.set_tail(3);
  auto reader = containers_->Logs(&ctx, request);
  std::string tail;
  v1::LogsResponse response;
  while (reader->Read(&response)) {
    for (const auto& e : response.entries()) tail += e.data();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(tail, "8\n9\n10\n");
}

}  // namespace
}  // namespace quilt::testing
