// Log capture: nothing lost, nothing duplicated, in order, while following; rotation.
#include <sys/stat.h>

#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
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

// The numbers of the lines of `text` that belong to a run of consecutive numbers: a line cut
// where older output was rotated away before it was read joins two fragments into a bogus
// number, which has no neighbour one apart.
std::vector<int64_t> AnchoredNumbers(const std::string& text, size_t* lines_seen) {
  std::vector<int64_t> numbers;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    int64_t n = -1;
    if (!absl::SimpleAtoi(line, &n)) n = -1;
    numbers.push_back(n);
  }
  *lines_seen = numbers.size();
  std::vector<int64_t> anchored;
  for (size_t i = 0; i < numbers.size(); ++i) {
    if (numbers[i] < 0) continue;
    const bool prev = i > 0 && numbers[i - 1] == numbers[i] - 1;
    const bool next = i + 1 < numbers.size() && numbers[i + 1] == numbers[i] + 1;
    if (prev || next) anchored.push_back(numbers[i]);
  }
  return anchored;
}

TEST_F(LogsTest, RotationBoundsDiskUseAndReadersStayInOrder) {
  constexpr int64_t kLines = 2'600'000;  // about 19.6 MB of output
  constexpr int64_t kCap = 1 << 20;
  v1::ContainerSpec spec = Spec({"seq", "1", std::to_string(kLines)});
  spec.set_log_max_bytes(kCap);
  spec.set_log_max_files(3);
  v1::Container c = Run(spec);
  // A follower from the start, while the container writes far more than is kept.
  const std::string followed = Logs(c.id(), v1::LOG_STREAM_UNSPECIFIED, /*follow=*/true);
  EXPECT_EQ(WaitFor(c.id()).exit_code(), 0);

  size_t followed_lines = 0;
  std::vector<int64_t> seen = AnchoredNumbers(followed, &followed_lines);
  ASSERT_FALSE(seen.empty());
  for (size_t i = 1; i < seen.size(); ++i) {
    ASSERT_LT(seen[i - 1], seen[i]) << "follower went back or repeated at line " << i;
  }
  EXPECT_EQ(seen.back(), kLines);
  // At most one bogus line per file rotated away under the follower.
  EXPECT_GE(seen.size() + 40, followed_lines);

  const std::string log = state_dir_ + "/containers/" + c.id() + "/container.log";
  int64_t total = 0;
  for (const std::string& name : {log, log + ".1", log + ".2"}) {
    struct stat st;
    ASSERT_EQ(::stat(name.c_str(), &st), 0) << name;
    EXPECT_LE(st.st_size, kCap) << name;
    total += st.st_size;
  }
  struct stat st;
  EXPECT_NE(::stat((log + ".3").c_str(), &st), 0) << "only 3 files are kept";
  // A rotated file was rotated only when the next record (at most 16 + 64 KiB) did not fit.
  EXPECT_GT(total, 2 * (kCap - 16 - 64 * 1024));

  // The history is the newest output: contiguous up to the last line. Its first line may
  // be the end of a line that began in a deleted file.
  const std::string history = Logs(c.id());
  EXPECT_LE(static_cast<int64_t>(history.size()), total);
  std::vector<absl::string_view> lines = absl::StrSplit(history, '\n', absl::SkipEmpty());
  ASSERT_GT(lines.size(), 100000u);
  int64_t prev = 0;
  ASSERT_TRUE(absl::SimpleAtoi(lines[1], &prev));
  for (size_t i = 2; i < lines.size(); ++i) {
    int64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(lines[i], &n)) << lines[i];
    ASSERT_EQ(n, prev + 1) << "gap or duplicate at line " << i;
    prev = n;
  }
  EXPECT_EQ(prev, kLines);
  std::cout << "[ figures  ] " << kLines << " lines written; follower read " << followed.size()
            << " bytes, " << followed_lines << " lines, " << seen.size()
            << " in order; 3 files use " << total << " bytes; history has " << lines.size()
            << " lines" << std::endl;

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
  EXPECT_EQ(tail, "2599998\n2599999\n2600000\n");
}

TEST_F(LogsTest, LogLimitsAreValidated) {
  v1::ContainerSpec spec = Spec({"true"});
  spec.set_log_max_bytes(1000);
  grpc::ClientContext ctx;
  v1::CreateRequest request;
  *request.mutable_spec() = spec;
  v1::CreateResponse response;
  grpc::Status status = containers_->Create(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("spec.log_max_bytes"));

  CommandResult cli = Cli({"create", "--log-max-size", "2m", "--log-max-files", "4", "--", "true"});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const std::string id(absl::StripAsciiWhitespace(cli.out));
  grpc::ClientContext gctx;
  v1::GetRequest get;
  get.set_ref(id);
  v1::GetResponse got;
  ASSERT_TRUE(containers_->Get(&gctx, get, &got).ok());
  EXPECT_EQ(got.container().spec().log_max_bytes(), 2 << 20);
  EXPECT_EQ(got.container().spec().log_max_files(), 4);
  EXPECT_EQ(Cli({"rm", id}).exit_code, 0);

  // Defaults are filled in at create.
  v1::Container plain = Run(Spec({"true"}));
  EXPECT_EQ(plain.spec().log_max_bytes(), 64 << 20);
  EXPECT_EQ(plain.spec().log_max_files(), 3);
  WaitFor(plain.id());
}

}  // namespace
}  // namespace quilt::testing
