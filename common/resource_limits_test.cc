#include "common/resource_limits.h"

#include "gtest/gtest.h"

namespace quilt {
namespace {

TEST(ResourceLimitsTest, EveryNameMapsToItsResourceAndBack) {
  EXPECT_EQ(ResourceLimitByName("nofile"), RLIMIT_NOFILE);
  EXPECT_EQ(ResourceLimitByName("nproc"), RLIMIT_NPROC);
  EXPECT_EQ(ResourceLimitByName("core"), RLIMIT_CORE);
  EXPECT_EQ(ResourceLimitNames().size(), 16u);
  for (const std::string& name : ResourceLimitNames()) {
    std::optional<int> resource = ResourceLimitByName(name);
    ASSERT_TRUE(resource.has_value()) << name;
    EXPECT_EQ(ResourceLimitName(*resource), name);
  }
}

TEST(ResourceLimitsTest, UnknownNamesAreRefused) {
  EXPECT_EQ(ResourceLimitByName(""), std::nullopt);
  EXPECT_EQ(ResourceLimitByName("NOFILE"), std::nullopt);
  EXPECT_EQ(ResourceLimitByName("RLIMIT_NOFILE"), std::nullopt);
  EXPECT_EQ(ResourceLimitByName("nofile "), std::nullopt);
  EXPECT_EQ(ResourceLimitName(-1), "");
}

TEST(ResourceLimitsTest, MinusOneIsUnlimited) {
  EXPECT_EQ(RlimFromApi(-1), RLIM_INFINITY);
  EXPECT_EQ(RlimFromApi(0), 0u);
  EXPECT_EQ(RlimFromApi(1024), 1024u);
  EXPECT_EQ(RlimToApi(RLIM_INFINITY), -1);
  EXPECT_EQ(RlimToApi(4096), 4096);
}

}  // namespace
}  // namespace quilt
