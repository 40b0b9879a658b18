#include "common/validation.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

TEST(IdTest, NewIdsAreValidAndDistinct) {
  const std::string a = NewContainerId();
  const std::string b = NewContainerId();
  EXPECT_TRUE(IsValidId(a));
  EXPECT_TRUE(IsValidId(b));
  EXPECT_NE(a, b);
}

TEST(IdTest, RejectsWrongLengthAndCase) {
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(std::string(63, 'a')));
  EXPECT_FALSE(IsValidId(std::string(64, 'A')));
  EXPECT_FALSE(IsValidId(std::string(63, 'a') + "/"));
  EXPECT_TRUE(IsValidId(std::string(64, 'f')));
}

TEST(NameTest, AcceptsDockerStyleNames) {
  EXPECT_TRUE(ValidateName("name", "web-1").ok());
  EXPECT_TRUE(ValidateName("name", "a.b_c").ok());
  EXPECT_TRUE(ValidateName("name", std::string(128, 'x')).ok());
}

TEST(NameTest, RejectsPathLikeAndEmptyNames) {
  for (const char* bad : {"", "../x", "/abs", "a/b", ".hidden", "-x", "sp ace"}) {
    absl::Status status = ValidateName("spec.name", bad);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("spec.name")) << bad;
  }
  EXPECT_FALSE(ValidateName("name", std::string(129, 'x')).ok());
  EXPECT_FALSE(ValidateName("name", std::string("a\0b", 3)).ok());
}

TEST(PathTest, AbsolutePaths) {
  EXPECT_TRUE(ValidateAbsolutePath("p", "/").ok());
  EXPECT_TRUE(ValidateAbsolutePath("p", "/a/b/c").ok());
  EXPECT_FALSE(ValidateAbsolutePath("p", "").ok());
  EXPECT_FALSE(ValidateAbsolutePath("p", "rel/x").ok());
  EXPECT_FALSE(ValidateAbsolutePath("p", "/a/../b").ok());
  EXPECT_FALSE(ValidateAbsolutePath("p", "/a/./b").ok());
  EXPECT_FALSE(ValidateAbsolutePath("p", std::string("/a\0b", 4)).ok());
  EXPECT_FALSE(ValidateAbsolutePath("p", "/" + std::string(5000, 'a')).ok());
}

TEST(TextTest, RejectsNulBadUtf8AndHugeValues) {
  EXPECT_TRUE(ValidateText("f", "héllo wörld ✓", 100).ok());
  EXPECT_FALSE(ValidateText("f", std::string("a\0", 2), 100).ok());
  EXPECT_FALSE(ValidateText("f", "\xff\xfe", 100).ok());
  EXPECT_FALSE(ValidateText("f", "\xc3", 100).ok());          // cut short
  EXPECT_FALSE(ValidateText("f", "\xc0\xaf", 100).ok());      // overlong '/'
  EXPECT_FALSE(ValidateText("f", "\xed\xa0\x80", 100).ok());  // surrogate
  absl::Status huge = ValidateText("spec.env[0]", std::string(1 << 20, 'a'), 65536);
  EXPECT_EQ(huge.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(huge.message(), HasSubstr("spec.env[0]"));
}

}  // namespace
}  // namespace quilt
