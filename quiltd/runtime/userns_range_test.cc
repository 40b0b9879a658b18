#include "quiltd/runtime/userns_range.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

TEST(ParseUsernsTest, HostAutoAndExplicit) {
  EXPECT_EQ(ParseUserns("")->mode, UsernsMode::kHost);
  EXPECT_EQ(ParseUserns("host")->mode, UsernsMode::kHost);
  EXPECT_EQ(ParseUserns("auto")->mode, UsernsMode::kAuto);
  auto explicit_range = ParseUserns("200000:65536");
  ASSERT_TRUE(explicit_range.ok()) << explicit_range.status();
  EXPECT_EQ(explicit_range->mode, UsernsMode::kExplicit);
  EXPECT_EQ(explicit_range->range, (IdRange{200000, 65536}));
}

TEST(ParseUsernsTest, RefusesBadValuesNamingTheField) {
  for (const char* bad :
       {"Auto", "100000", "100000:", ":65536", "0:65536", "100000:1000", "-1:65536", "1:2:3",
        "4294901760:65536", "99999999999:65536", "100000:65536 "}) {
    auto parsed = ParseUserns(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(parsed.status().message(), HasSubstr("spec.userns")) << bad;
  }
}

TEST(IdRangeTest, Overlaps) {
  const IdRange a{100000, 65536};
  EXPECT_TRUE(a.Overlaps({165535, 10}));
  EXPECT_FALSE(a.Overlaps({165536, 10}));
  EXPECT_FALSE(a.Overlaps({99990, 10}));
  EXPECT_TRUE(a.Overlaps({99990, 11}));
}

TEST(CheckIdsMappedTest, NamesTheFieldAndTheId) {
  EXPECT_TRUE(CheckIdsMapped({0, 65535}, 65536, "spec.user").ok());
  absl::Status status = CheckIdsMapped({0, 70000}, 65536, "spec.user");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("spec.user: id 70000"));
}

TEST(PickFreeRangeTest, SkipsUsedBlocksAndReportsExhaustion) {
  const IdRange pool{100000, 3 * 65536};
  EXPECT_EQ(*PickFreeRange(pool, {}, 65536), (IdRange{100000, 65536}));
  EXPECT_EQ(*PickFreeRange(pool, {{100000, 65536}}, 65536), (IdRange{165536, 65536}));
  // An explicit range straddling two blocks takes both.
  EXPECT_EQ(*PickFreeRange(pool, {{150000, 65536}}, 65536), (IdRange{231072, 65536}));
  auto full = PickFreeRange(pool, {{100000, 3 * 65536}}, 65536);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ReadSubordinateRangeTest, FindsTheUsersEntry) {
  char path[] = "/tmp/subuid-test-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "alice:100000:65536\nquilt:1000:10\nquilt:300000:655360\n";
  auto range = ReadSubordinateRange(path, "quilt");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_EQ(*range, (IdRange{300000, 655360}));
  EXPECT_EQ(ReadSubordinateRange(path, "bob").status().code(), absl::StatusCode::kNotFound);
  unlink(path);
  EXPECT_EQ(ReadSubordinateRange(path, "quilt").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace quilt
