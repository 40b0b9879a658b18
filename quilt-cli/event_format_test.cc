#include "quilt-cli/event_format.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt::cli {
namespace {

TEST(EventFormatTest, NamesRoundTrip) {
  for (int t = 1; t <= 10; ++t) {
    const auto type = static_cast<quilt::v1::EventType>(t);
    absl::StatusOr<quilt::v1::EventType> parsed = ParseEventType(EventTypeName(type));
    ASSERT_TRUE(parsed.ok()) << EventTypeName(type);
    EXPECT_EQ(*parsed, type);
  }
  EXPECT_EQ(EventTypeName(quilt::v1::EVENT_TYPE_START_FAILED), "start-failed");
}

TEST(EventFormatTest, UnknownTypeListsTheNames) {
  absl::StatusOr<quilt::v1::EventType> parsed = ParseEventType("died");
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), ::testing::HasSubstr("--type: unknown event type"));
  EXPECT_THAT(parsed.status().message(), ::testing::HasSubstr("image-removed"));
}

TEST(EventFormatTest, ExitedLine) {
  quilt::v1::Event event;
  event.set_seq(42);
  event.mutable_time()->set_seconds(1795000000);
  event.set_type(quilt::v1::EVENT_TYPE_EXITED);
  event.set_container_id(std::string(64, 'a'));
  event.set_name("web");
  event.set_exit_code(137);
  event.set_signal(9);
  event.set_reason("OOMKilled");
  EXPECT_EQ(FormatEvent(event),
            "42 2026-11-18T11:06:40Z exited aaaaaaaaaaaa name=web code=137 signal=9 "
            "reason=OOMKilled");
}

TEST(EventFormatTest, KilledAndImageLines) {
  quilt::v1::Event killed;
  killed.set_seq(1);
  killed.set_type(quilt::v1::EVENT_TYPE_KILLED);
  killed.set_container_id(std::string(64, 'b'));
  killed.set_signal(15);
  EXPECT_THAT(FormatEvent(killed), ::testing::EndsWith("killed bbbbbbbbbbbb signal=15"));
  quilt::v1::Event image;
  image.set_seq(2);
  image.set_type(quilt::v1::EVENT_TYPE_IMAGE_REMOVED);
  image.set_image("sha256:" + std::string(64, 'c'));
  image.set_name("alpine");
  EXPECT_THAT(FormatEvent(image), ::testing::HasSubstr("image-removed sha256:cccccccccccc"));
  EXPECT_THAT(FormatEvent(image), ::testing::EndsWith("name=alpine"));
}

}  // namespace
}  // namespace quilt::cli
