#include "quiltd/monitor/capabilities.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

constexpr uint64_t Bit(int n) { return uint64_t{1} << n; }

TEST(CapabilitiesTest, NamesResolveInAnyCaseWithOrWithoutPrefix) {
  EXPECT_EQ(CapabilityNumber("NET_RAW"), 13);
  EXPECT_EQ(CapabilityNumber("cap_net_raw"), 13);
  EXPECT_EQ(CapabilityNumber("Cap_Sys_Admin"), 21);
  EXPECT_EQ(CapabilityNumber("CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityNumber("NET_RAWW"), -1);
  EXPECT_EQ(CapabilityNumber("CAP_"), -1);
  EXPECT_EQ(CapabilityNumber(""), -1);
}

TEST(CapabilitiesTest, DefaultSetIsTheElevenPodmanGrants) {
  EXPECT_THAT(CapabilityNames(kDefaultCapabilities),
              testing::ElementsAre("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",
                                   "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
                                   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP"));
  EXPECT_EQ(ResolveCapabilities({}, {}).value(), kDefaultCapabilities);
}

TEST(CapabilitiesTest, DropThenAdd) {
  EXPECT_EQ(ResolveCapabilities({"NET_RAW"}, {}).value(), kDefaultCapabilities | Bit(13));
  EXPECT_EQ(ResolveCapabilities({}, {"chown", "CAP_KILL"}).value(),
            kDefaultCapabilities & ~Bit(0) & ~Bit(5));
  EXPECT_EQ(ResolveCapabilities({}, {"ALL"}).value(), 0u);
  EXPECT_EQ(ResolveCapabilities({"SYS_PTRACE"}, {"all"}).value(), Bit(19));
  EXPECT_EQ(ResolveCapabilities({"ALL"}, {}).value(), Bit(41) - 1);
  EXPECT_EQ(ResolveCapabilities({"ALL"}, {"SYS_PTRACE"}).value(), (Bit(41) - 1) & ~Bit(19))
      << "drops apply after add ALL";
  EXPECT_EQ(ResolveCapabilities({"ALL"}, {"ALL"}).value(), 0u);
}

TEST(CapabilitiesTest, UnknownNameNamesTheField) {
  absl::StatusOr<uint64_t> bad = ResolveCapabilities({"NET_RAW", "FLY"}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "spec.cap_add[1]: unknown capability \"FLY\"");
  EXPECT_EQ(ResolveCapabilities({}, {"x"}).status().message(),
            "spec.cap_drop[0]: unknown capability \"x\"");
}

TEST(CapabilitiesTest, NamesOfUnnamedBitsAreNumbers) {
  EXPECT_EQ(CapabilityName(13), "CAP_NET_RAW");
  EXPECT_EQ(CapabilityName(50), "CAP_50");
}

}  // namespace
}  // namespace quilt
