#include "quilt-cli/parse.h"

#include <csignal>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt::cli {
namespace {

TEST(ParseSizeTest, AcceptsBytesAndBinaryUnits) {
  EXPECT_EQ(*ParseSize("1024"), 1024);
  EXPECT_EQ(*ParseSize("512k"), 512 * 1024);
  EXPECT_EQ(*ParseSize("64m"), 67108864);
  EXPECT_EQ(*ParseSize("64M"), 67108864);
  EXPECT_EQ(*ParseSize("64mb"), 67108864);
  EXPECT_EQ(*ParseSize("64MiB"), 67108864);
  EXPECT_EQ(*ParseSize("1g"), 1073741824);
  EXPECT_EQ(*ParseSize("1.5g"), 1610612736);
  EXPECT_EQ(*ParseSize("2t"), int64_t{2} << 40);
  EXPECT_EQ(*ParseSize("100b"), 100);
  EXPECT_EQ(*ParseSize("0"), 0);
}

TEST(ParseSizeTest, RejectsGarbage) {
  for (const char* bad : {"", "m", "-1m", "12q", "1..2m", "64mm", "abc", "99999999999999t"}) {
    EXPECT_EQ(ParseSize(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ParseSize("12q").status().message()),
              testing::HasSubstr("invalid size \"12q\""));
}

TEST(ParseSignalTest, NamesAndNumbers) {
  EXPECT_EQ(*ParseSignal("TERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(*ParseSignal("sigkill"), SIGKILL);
  EXPECT_EQ(*ParseSignal("hup"), SIGHUP);
  EXPECT_EQ(*ParseSignal("USR1"), SIGUSR1);
  EXPECT_EQ(*ParseSignal("9"), 9);
  EXPECT_EQ(*ParseSignal("64"), 64);
}

TEST(ParseSignalTest, RejectsUnknown) {
  for (const char* bad : {"", "0", "65", "-9", "SIG", "TERMINATE", "SIGSIGTERM"}) {
    EXPECT_FALSE(ParseSignal(bad).ok()) << bad;
  }
}

TEST(ParseCpusTest, PositiveDecimals) {
  EXPECT_DOUBLE_EQ(*ParseCpus("0.5"), 0.5);
  EXPECT_DOUBLE_EQ(*ParseCpus("2"), 2.0);
  for (const char* bad : {"", "0", "-1", "abc", "inf", "nan"}) {
    EXPECT_FALSE(ParseCpus(bad).ok()) << bad;
  }
}

TEST(ParseVolumeTest, AbsoluteAndRelativeSources) {
  absl::StatusOr<quilt::v1::Mount> mount = ParseVolume("/data:/mnt/data:ro", "/home/u");
  ASSERT_TRUE(mount.ok()) << mount.status();
  EXPECT_EQ(mount->source(), "/data");
  EXPECT_EQ(mount->destination(), "/mnt/data");
  EXPECT_TRUE(mount->read_only());

  mount = ParseVolume("./src/../out/:/out", "/home/u");
  ASSERT_TRUE(mount.ok()) << mount.status();
  EXPECT_EQ(mount->source(), "/home/u/out");
  EXPECT_FALSE(mount->read_only());

  mount = ParseVolume("cache:/c:rw", "/work");
  ASSERT_TRUE(mount.ok()) << mount.status();
  EXPECT_EQ(mount->source(), "/work/cache");
  EXPECT_FALSE(mount->read_only());
}

TEST(ParseVolumeTest, RejectsMalformed) {
  for (const char* bad : {"/a", ":/b", "/a:", "/a:b", "/a:/b:rx", "/a:/b:ro:x"}) {
    EXPECT_FALSE(ParseVolume(bad, "/").ok()) << bad;
  }
}

TEST(ParseEnvTest, KeyValueAndInherited) {
  EnvLookup lookup = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return "/root";
    if (name == "EMPTY") return "";
    return std::nullopt;
  };
  EXPECT_EQ(**ParseEnv("A=1", lookup), "A=1");
  EXPECT_EQ(**ParseEnv("A=", lookup), "A=");
  EXPECT_EQ(**ParseEnv("A=b=c", lookup), "A=b=c");
  EXPECT_EQ(**ParseEnv("HOME", lookup), "HOME=/root");
  EXPECT_EQ(**ParseEnv("EMPTY", lookup), "EMPTY=");
  EXPECT_FALSE(ParseEnv("UNSET", lookup)->has_value());
  EXPECT_FALSE(ParseEnv("", lookup).ok());
  EXPECT_FALSE(ParseEnv("=x", lookup).ok());
}

TEST(ParseNetworkTest, NoneAndHost) {
  EXPECT_EQ(*ParseNetwork("none"), quilt::v1::NETWORK_MODE_NONE);
  EXPECT_EQ(*ParseNetwork("host"), quilt::v1::NETWORK_MODE_HOST);
  EXPECT_FALSE(ParseNetwork("bridge").ok());
}

TEST(ParseUlimitTest, SoftHardAndUnlimited) {
  absl::StatusOr<quilt::v1::Ulimit> both = ParseUlimit("nofile=1024:4096");
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->name(), "nofile");
  EXPECT_EQ(both->soft(), 1024);
  EXPECT_EQ(both->hard(), 4096);
  absl::StatusOr<quilt::v1::Ulimit> one = ParseUlimit("core=0");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->soft(), 0);
  EXPECT_EQ(one->hard(), 0) << "the hard limit defaults to the soft one";
  absl::StatusOr<quilt::v1::Ulimit> unlimited = ParseUlimit("stack=8388608:unlimited");
  ASSERT_TRUE(unlimited.ok()) << unlimited.status();
  EXPECT_EQ(unlimited->hard(), -1);
  EXPECT_EQ(ParseUlimit("memlock=-1")->soft(), -1);
}

TEST(ParseUlimitTest, RejectsMalformed) {
  for (const char* bad : {"nofile", "nofile=", "nofile=1:", "nofile=:1", "nofile=x", "nofile=-2",
                          "nofile=1:2:3", "nofile=+5", "files=1", "=1", "NOFILE=1"}) {
    absl::StatusOr<quilt::v1::Ulimit> parsed = ParseUlimit(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_THAT(std::string(ParseUlimit("files=1").status().message()),
              ::testing::HasSubstr("unknown limit (want one of as, core, cpu"));
}

TEST(ParseTmpfsTest, PathAndOptions) {
  absl::StatusOr<quilt::v1::TmpfsMount> plain = ParseTmpfs("/run");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->destination(), "/run");
  EXPECT_EQ(plain->size_bytes(), 0) << "the daemon's default";
  EXPECT_EQ(plain->mode(), 0u);
  EXPECT_FALSE(plain->exec());
  absl::StatusOr<quilt::v1::TmpfsMount> full =
      ParseTmpfs("/scratch:rw,size=64m,mode=700,exec,nosuid,nodev");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->size_bytes(), 64 << 20);
  EXPECT_EQ(full->mode(), 0700u);
  EXPECT_TRUE(full->exec());
  EXPECT_FALSE(ParseTmpfs("/x:exec,noexec")->exec()) << "the last one wins";
  EXPECT_EQ(ParseTmpfs("/x:mode=1777")->mode(), 01777u);
}

TEST(ParseTmpfsTest, RejectsMalformed) {
  for (const char* bad : {"", "run", ":size=1m", "/x:size=lots", "/x:mode=9", "/x:mode=17777",
                          "/x:mode=", "/x:ro", "/x:suid", "/x:size=1m,"}) {
    EXPECT_EQ(ParseTmpfs(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseSinceTest, DurationsTimesAndUnixSeconds) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(*ParseSince("10m", now), now - absl::Minutes(10));
  EXPECT_EQ(*ParseSince("1h30m", now), now - absl::Minutes(90));
  EXPECT_EQ(*ParseSince("45s", now), now - absl::Seconds(45));
  EXPECT_EQ(*ParseSince("2026-11-22T10:00:00Z", now),
            absl::FromCivil(absl::CivilSecond(2026, 11, 22, 10, 0, 0), absl::UTCTimeZone()));
  EXPECT_EQ(*ParseSince("2026-11-22T12:00:00.5+02:00", now),
            absl::FromCivil(absl::CivilSecond(2026, 11, 22, 10, 0, 0), absl::UTCTimeZone()) +
                absl::Milliseconds(500));
  EXPECT_EQ(*ParseSince("1700000000", now), absl::FromUnixSeconds(1'700'000'000));
  EXPECT_EQ(*ParseSince("1700000000.25", now),
            absl::FromUnixSeconds(1'700'000'000) + absl::Milliseconds(250));
  for (const char* bad : {"", "-5m", "yesterday", "10 minutes", "2026-13-01T00:00:00Z"}) {
    EXPECT_FALSE(ParseSince(bad, now).ok()) << bad;
  }
}

TEST(ImageRefTest, PathsBecomeAbsoluteNamesStay) {
  EXPECT_EQ(ImageRef("alpine", "/w"), "alpine");
  EXPECT_EQ(ImageRef("sha256:abcdef", "/w"), "sha256:abcdef");
  EXPECT_EQ(ImageRef("rootfs.tar.gz", "/w"), "/w/rootfs.tar.gz");
  EXPECT_EQ(ImageRef("./img/x", "/w"), "/w/img/x");
  EXPECT_EQ(ImageRef("/abs/r.tar", "/w"), "/abs/r.tar");
}

}  // namespace
}  // namespace quilt::cli
