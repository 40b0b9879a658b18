#include "quilt-cli/output.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt::cli {
namespace {

google::protobuf::Timestamp At(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(absl::ToUnixSeconds(time));
  timestamp.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(absl::ToUnixSeconds(time)))));
  return timestamp;
}

TEST(TableTest, AlignsColumns) {
  Table table({"ID", "NAME", "STATE"});
  table.AddRow({"abc", "web-server", "running"});
  table.AddRow({"abcdef", "", "exited"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID       NAME         STATE\n"
            "abc      web-server   running\n"
            "abcdef                exited\n");
}

TEST(HumanDurationTest, DockerLikeWording) {
  EXPECT_EQ(HumanDuration(absl::Milliseconds(300)), "Less than a second");
  EXPECT_EQ(HumanDuration(absl::Seconds(1)), "1 second");
  EXPECT_EQ(HumanDuration(absl::Seconds(5)), "5 seconds");
  EXPECT_EQ(HumanDuration(absl::Seconds(90)), "About a minute");
  EXPECT_EQ(HumanDuration(absl::Minutes(2)), "2 minutes");
  EXPECT_EQ(HumanDuration(absl::Minutes(61)), "About an hour");
  EXPECT_EQ(HumanDuration(absl::Hours(5)), "5 hours");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 3)), "3 days");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 21)), "3 weeks");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 100)), "3 months");
  EXPECT_EQ(HumanDuration(absl::Hours(24 * 365 * 3)), "3 years");
}

TEST(HumanSizeTest, DecimalUnits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(512), "512B");
  EXPECT_EQ(HumanSize(4100), "4.1kB");
  EXPECT_EQ(HumanSize(67108864), "67.1MB");
  EXPECT_EQ(HumanSize(1073741824), "1.07GB");
}

TEST(StatusTextTest, EachState) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  quilt::v1::Container container;
  container.set_state(quilt::v1::CONTAINER_STATE_CREATED);
  EXPECT_EQ(StatusText(container, now), "Created");
  container.set_state(quilt::v1::CONTAINER_STATE_RUNNING);
  *container.mutable_started_at() = At(now - absl::Seconds(5));
  EXPECT_EQ(StatusText(container, now), "Up 5 seconds");
  container.set_state(quilt::v1::CONTAINER_STATE_EXITED);
  container.set_exit_code(3);
  *container.mutable_finished_at() = At(now - absl::Minutes(2));
  EXPECT_EQ(StatusText(container, now), "Exited (3) 2 minutes ago");
  container.set_state(quilt::v1::CONTAINER_STATE_FAILED);
  container.set_reason("SetupFailed");
  EXPECT_EQ(StatusText(container, now), "Failed (SetupFailed) 2 minutes ago");
}

TEST(CommandTextTest, QuotesWhatAShellWouldSplit) {
  quilt::v1::ContainerSpec spec;
  for (const char* word : {"sh", "-c", "echo 'hi' there", "", "a=b"}) spec.add_command(word);
  EXPECT_EQ(CommandText(spec.command()), R"(sh -c 'echo '\''hi'\'' there' '' a=b)");
}

TEST(TruncateTest, CutsWithEllipsis) {
  EXPECT_EQ(Truncate("short", 10), "short");
  EXPECT_EQ(Truncate("0123456789abc", 10), "0123456...");
}

TEST(ShortIdTest, Prefixes) {
  EXPECT_EQ(ShortId("0123456789abcdef0123"), "0123456789ab");
  EXPECT_EQ(ShortDigest("sha256:0123456789abcdef0123"), "sha256:0123456789ab");
}

TEST(FormatTimestampTest, Rfc3339NanoUtc) {
  absl::Time time = absl::FromCivil(absl::CivilSecond(2026, 11, 22, 10, 0, 1), absl::UTCTimeZone());
  EXPECT_EQ(FormatTimestamp(At(time)), "2026-11-22T10:00:01Z");
  EXPECT_EQ(FormatTimestamp(At(time + absl::Nanoseconds(123456789))),
            "2026-11-22T10:00:01.123456789Z");
  EXPECT_EQ(FormatTimestamp(google::protobuf::Timestamp()), "");
}

TEST(PrefixLinesTest, PrefixesEachLineAcrossChunks) {
  bool at_start = true;
  EXPECT_EQ(PrefixLines("a\nb", "T ", &at_start), "T a\nT b");
  EXPECT_FALSE(at_start);
  EXPECT_EQ(PrefixLines("c\n", "T ", &at_start), "c\n");
  EXPECT_TRUE(at_start);
  EXPECT_EQ(PrefixLines("\n\n", "T ", &at_start), "T \nT \n");
}

TEST(ProtoToJsonTest, ProtoNamesAndDefaults) {
  quilt::v1::Container container;
  container.set_id("abc");
  container.set_state(quilt::v1::CONTAINER_STATE_EXITED);
  nlohmann::json json = ProtoToJson(container);
  EXPECT_EQ(json["id"], "abc");
  EXPECT_EQ(json["state"], "CONTAINER_STATE_EXITED");
  EXPECT_EQ(json["exit_code"], 0);
}

}  // namespace
}  // namespace quilt::cli
