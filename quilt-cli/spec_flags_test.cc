#include "quilt-cli/spec_flags.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt::cli {
namespace {

// Parses `args` (after the program name) as the flags of a "create" command.
SpecFlags Parse(std::vector<std::string> args) {
  CLI::App app("test");
  SpecFlags flags;
  AddSpecFlags(&app, &flags);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  app.parse(reversed);
  return flags;
}

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

TEST(SpecFlagsTest, MapsEveryFlag) {
  SpecFlags flags = Parse({"--name",
                           "web",
                           "--image",
                           "img.tar",
                           "-e",
                           "A=1",
                           "--env",
                           "B=2",
                           "-w",
                           "/srv",
                           "-u",
                           "1000:1000",
                           "--hostname",
                           "h",
                           "--setup",
                           "echo one",
                           "--setup",
                           "echo two",
                           "--memory",
                           "64m",
                           "--cpus",
                           "0.5",
                           "--pids",
                           "20",
                           "-v",
                           "data:/data:ro",
                           "--volume",
                           "/x:/y",
                           "--network",
                           "host",
                           "--log-max-size",
                           "2m",
                           "--log-max-files",
                           "5",
                           "--ulimit",
                           "nofile=10:20",
                           "--ulimit",
                           "core=0",
                           "--shm-size",
                           "1g",
                           "--tmpfs",
                           "/run:size=1m",
                           "--read-only",
                           "--",
                           "sh",
                           "-c",
                           "echo \"a b\"",
                           "--name"});
  absl::StatusOr<quilt::v1::ContainerSpec> spec = BuildSpec(flags, "/cwd", NoEnv);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "web");
  EXPECT_EQ(spec->image(), "/cwd/img.tar");
  EXPECT_THAT(spec->env(), testing::ElementsAre("A=1", "B=2"));
  EXPECT_EQ(spec->working_dir(), "/srv");
  EXPECT_EQ(spec->user(), "1000:1000");
  EXPECT_EQ(spec->hostname(), "h");
  EXPECT_THAT(spec->setup(), testing::ElementsAre("echo one", "echo two"));
  EXPECT_EQ(spec->resources().memory_bytes(), 67108864);
  EXPECT_DOUBLE_EQ(spec->resources().cpus(), 0.5);
  EXPECT_EQ(spec->resources().pids_max(), 20);
  ASSERT_EQ(spec->mounts_size(), 2);
  EXPECT_EQ(spec->mounts(0).source(), "/cwd/data");
  EXPECT_TRUE(spec->mounts(0).read_only());
  EXPECT_FALSE(spec->mounts(1).read_only());
  EXPECT_EQ(spec->network(), quilt::v1::NETWORK_MODE_HOST);
  EXPECT_TRUE(spec->read_only_rootfs());
  EXPECT_EQ(spec->log_max_bytes(), 2 * 1024 * 1024);
  EXPECT_EQ(spec->log_max_files(), 5);
  ASSERT_EQ(spec->ulimits_size(), 2);
  EXPECT_EQ(spec->ulimits(0).name(), "nofile");
  EXPECT_EQ(spec->ulimits(0).soft(), 10);
  EXPECT_EQ(spec->ulimits(0).hard(), 20);
  EXPECT_EQ(spec->ulimits(1).name(), "core");
  EXPECT_EQ(spec->ulimits(1).hard(), 0);
  EXPECT_EQ(spec->shm_size_bytes(), int64_t{1} << 30);
  ASSERT_EQ(spec->tmpfs_size(), 1);
  EXPECT_EQ(spec->tmpfs(0).destination(), "/run");
  EXPECT_EQ(spec->tmpfs(0).size_bytes(), 1 << 20);
  EXPECT_THAT(spec->command(), testing::ElementsAre("sh", "-c", "echo \"a b\"", "--name"));
}

TEST(SpecFlagsTest, DefaultsLeaveFieldsEmpty) {
  absl::StatusOr<quilt::v1::ContainerSpec> spec = BuildSpec(Parse({"--", "true"}), "/", NoEnv);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->image(), "");
  EXPECT_EQ(spec->network(), quilt::v1::NETWORK_MODE_UNSPECIFIED);
  EXPECT_EQ(spec->resources().memory_bytes(), 0);
  EXPECT_EQ(spec->log_max_bytes(), 0);
  EXPECT_EQ(spec->log_max_files(), 0);
  EXPECT_EQ(spec->ulimits_size(), 0);
  EXPECT_EQ(spec->shm_size_bytes(), 0);
  EXPECT_THAT(spec->command(), testing::ElementsAre("true"));
}

TEST(SpecFlagsTest, BadValuesNameTheFlag) {
  EXPECT_THAT(std::string(BuildSpec(Parse({"--memory", "lots"}), "/", NoEnv).status().message()),
              testing::HasSubstr("invalid size \"lots\""));
  EXPECT_THAT(std::string(BuildSpec(Parse({"--cpus", "0"}), "/", NoEnv).status().message()),
              testing::HasSubstr("invalid cpus"));
  EXPECT_THAT(std::string(BuildSpec(Parse({"-v", "/a"}), "/", NoEnv).status().message()),
              testing::HasSubstr("invalid volume"));
  EXPECT_THAT(std::string(BuildSpec(Parse({"--network", "x"}), "/", NoEnv).status().message()),
              testing::HasSubstr("invalid network"));
  EXPECT_THAT(std::string(BuildSpec(Parse({"--pids", "-2"}), "/", NoEnv).status().message()),
              testing::HasSubstr("invalid pids -2"));
  EXPECT_THAT(
      std::string(BuildSpec(Parse({"--log-max-size", "big"}), "/", NoEnv).status().message()),
      testing::HasSubstr("--log-max-size: invalid size"));
  EXPECT_THAT(
      std::string(BuildSpec(Parse({"--log-max-files", "-1"}), "/", NoEnv).status().message()),
      testing::HasSubstr("--log-max-files: must not be negative"));
  EXPECT_THAT(std::string(BuildSpec(Parse({"--ulimit", "fd=1"}), "/", NoEnv).status().message()),
              testing::HasSubstr("invalid ulimit \"fd=1\": unknown limit"));
  EXPECT_THAT(std::string(BuildSpec(Parse({"--shm-size", "x"}), "/", NoEnv).status().message()),
              testing::HasSubstr("--shm-size: invalid size"));
}

TEST(SpecFlagsTest, SecurityFlagsAndPidsSpecialValues) {
  absl::StatusOr<quilt::v1::ContainerSpec> spec = BuildSpec(
      Parse({"--cap-drop", "ALL", "--cap-add", "NET_RAW", "--cap-add", "cap_kill", "--seccomp",
             "unconfined", "--pids", "-1", "--userns", "auto", "--", "true"}),
      "/", NoEnv);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->cap_drop(), testing::ElementsAre("ALL"));
  EXPECT_THAT(spec->cap_add(), testing::ElementsAre("NET_RAW", "cap_kill"));
  EXPECT_EQ(spec->seccomp(), "unconfined");
  EXPECT_EQ(spec->userns(), "auto");
  EXPECT_EQ(spec->resources().pids_max(), -1);
  spec = BuildSpec(Parse({"--", "true"}), "/", NoEnv);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->cap_add().empty());
  EXPECT_EQ(spec->seccomp(), "");
  EXPECT_EQ(spec->userns(), "");
  EXPECT_EQ(spec->resources().pids_max(), 0) << "0: the daemon's default";
}

}  // namespace
}  // namespace quilt::cli
