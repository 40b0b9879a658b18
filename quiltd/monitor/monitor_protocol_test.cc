#include "quiltd/monitor/monitor_protocol.h"

#include <gtest/gtest.h>

#include <cstring>

#include "quiltd/monitor/monitor_config.h"

namespace quilt {
namespace {

MonitorConfig FullConfig() {
  MonitorConfig c;
  c.container_id = "c1";
  c.bundle_dir = "/var/lib/quilt/c1";
  c.lower_dirs = {"/l/top", "/l/base"};
  c.upper_dir = "/b/upper";
  c.work_dir = "/b/work";
  c.rootfs_dir = "/b/rootfs";
  c.read_only_rootfs = true;
  c.mounts = {{"/src", "/dst", true}, {"/a", "/b", false}};
  c.shm_size_bytes = 1 << 20;
  c.tmpfs = {{"/scratch", 2 << 20, 0700, true}, {"/run", 4096, 01777, false}};
  c.hostname = "box";
  c.new_network = false;
  c.argv = {"sh", "-c", "echo \"hi\""};
  c.env = {"PATH=/bin", "A=b=c"};
  c.working_dir = "/w";
  c.uid = 1000;
  c.gid = 1001;
  c.additional_gids = {5, 6};
  c.setup = {"echo one", "echo two"};
  c.capabilities = 0x800425fb;
  // Two BPF instructions holding every kind of byte: NUL, high bit, hex letters.
  c.seccomp_program =
      std::string("\x00\x01\x7f\x80\xab\xcd\xef\xff\x20\x00\x00\x00\x04\x00\x00\x00", 16);
  c.rlimits = {{RLIMIT_NOFILE, 1024, 4096}, {RLIMIT_CORE, 0, RLIM_INFINITY}};
  c.cgroup_procs_files = {"/sys/fs/cgroup/memory/x/cgroup.procs"};
  c.cgroup_v2_dir = "/sys/fs/cgroup/unified/x";
  c.userns_host_id = 3000000;
  c.userns_size = 65536;
  c.log_path = "/b/log";
  c.log_max_bytes = 1 << 20;
  c.log_max_files = 3;
  c.state_path = "/b/state.json";
  c.exit_path = "/b/exit.json";
  return c;
}

TEST(MonitorConfigTest, RoundTripsEveryField) {
  MonitorConfig in = FullConfig();
  absl::StatusOr<MonitorConfig> out = ParseMonitorConfig(SerializeMonitorConfig(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->container_id, in.container_id);
  EXPECT_EQ(out->bundle_dir, in.bundle_dir);
  EXPECT_EQ(out->lower_dirs, in.lower_dirs);
  EXPECT_EQ(out->upper_dir, in.upper_dir);
  EXPECT_EQ(out->work_dir, in.work_dir);
  EXPECT_EQ(out->rootfs_dir, in.rootfs_dir);
  EXPECT_TRUE(out->read_only_rootfs);
  ASSERT_EQ(out->mounts.size(), 2u);
  EXPECT_EQ(out->mounts[0].source, "/src");
  EXPECT_EQ(out->mounts[0].destination, "/dst");
  EXPECT_TRUE(out->mounts[0].read_only);
  EXPECT_FALSE(out->mounts[1].read_only);
  EXPECT_EQ(out->shm_size_bytes, 1 << 20);
  ASSERT_EQ(out->tmpfs.size(), 2u);
  EXPECT_EQ(out->tmpfs[0].destination, "/scratch");
  EXPECT_EQ(out->tmpfs[0].size_bytes, 2 << 20);
  EXPECT_EQ(out->tmpfs[0].mode, 0700u);
  EXPECT_TRUE(out->tmpfs[0].exec);
  EXPECT_EQ(out->tmpfs[1].mode, 01777u);
  EXPECT_FALSE(out->tmpfs[1].exec);
  EXPECT_EQ(out->hostname, "box");
  EXPECT_FALSE(out->new_network);
  EXPECT_EQ(out->argv, in.argv);
  EXPECT_EQ(out->env, in.env);
  EXPECT_EQ(out->working_dir, "/w");
  EXPECT_EQ(out->uid, 1000u);
  EXPECT_EQ(out->gid, 1001u);
  EXPECT_EQ(out->additional_gids, in.additional_gids);
  EXPECT_EQ(out->setup, in.setup);
  EXPECT_EQ(out->capabilities, in.capabilities);
  EXPECT_EQ(out->seccomp_program, in.seccomp_program);
  ASSERT_EQ(out->rlimits.size(), 2u);
  EXPECT_EQ(out->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(out->rlimits[0].soft, 1024u);
  EXPECT_EQ(out->rlimits[0].hard, 4096u);
  EXPECT_EQ(out->rlimits[1].resource, RLIMIT_CORE);
  EXPECT_EQ(out->rlimits[1].soft, 0u);
  EXPECT_EQ(out->rlimits[1].hard, RLIM_INFINITY);
  EXPECT_EQ(out->cgroup_procs_files, in.cgroup_procs_files);
  EXPECT_EQ(out->cgroup_v2_dir, in.cgroup_v2_dir);
  EXPECT_EQ(out->userns_host_id, 3000000u);
  EXPECT_EQ(out->userns_size, 65536u);
  EXPECT_EQ(out->log_path, in.log_path);
  EXPECT_EQ(out->log_max_bytes, 1 << 20);
  EXPECT_EQ(out->log_max_files, 3);
  EXPECT_EQ(out->state_path, in.state_path);
  EXPECT_EQ(out->exit_path, in.exit_path);
}

TEST(MonitorConfigTest, OptionalFieldsTakeDefaults) {
  absl::StatusOr<MonitorConfig> out = ParseMonitorConfig(R"({
    "container_id": "c", "bundle_dir": "/b", "lower_dirs": ["/l"], "upper_dir": "/u",
    "work_dir": "/w", "rootfs_dir": "/r", "argv": ["true"], "log_path": "/b/log",
    "state_path": "/b/s", "exit_path": "/b/e", "seccomp_program": ""})");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->capabilities, 0u);
  EXPECT_TRUE(out->seccomp_program.empty()) << "explicitly unconfined";
  EXPECT_TRUE(out->new_network);
  EXPECT_FALSE(out->read_only_rootfs);
  EXPECT_EQ(out->log_max_bytes, 0);
  EXPECT_EQ(out->log_max_files, 1);
  EXPECT_EQ(out->working_dir, "/");
  EXPECT_EQ(out->uid, 0u);
  EXPECT_TRUE(out->mounts.empty());
  EXPECT_TRUE(out->setup.empty());
  EXPECT_TRUE(out->rlimits.empty());
  EXPECT_EQ(out->shm_size_bytes, 0) << "the default size";
  EXPECT_TRUE(out->tmpfs.empty());
}

TEST(MonitorConfigTest, RejectsBadJsonMissingFieldsAndWrongTypes) {
  EXPECT_EQ(ParseMonitorConfig("{not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMonitorConfig("[1]").status().code(), absl::StatusCode::kInvalidArgument);
  std::string text = SerializeMonitorConfig(FullConfig());
  std::string no_argv = text;
  no_argv.replace(no_argv.find("\"argv\""), 6, "\"argx\"");
  absl::StatusOr<MonitorConfig> missing = ParseMonitorConfig(no_argv);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("argv"), absl::string_view::npos) << missing.status();
  std::string bad_uid = text;
  bad_uid.replace(bad_uid.find("1000"), 4, "\"x\"");
  EXPECT_EQ(ParseMonitorConfig(bad_uid).status().code(), absl::StatusCode::kInvalidArgument);
  MonitorConfig empty_argv = FullConfig();
  empty_argv.argv.clear();
  EXPECT_EQ(ParseMonitorConfig(SerializeMonitorConfig(empty_argv)).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string bad_limit = text;
  bad_limit.replace(bad_limit.find("\"nofile\""), 8, "\"nofilex\"");
  EXPECT_EQ(ParseMonitorConfig(bad_limit).status().code(), absl::StatusCode::kInvalidArgument)
      << "an unknown limit is never silently skipped";
}

// Fail safe: a config that does not say which filter to load (an empty program says "none")
// starts nothing, and neither does a program the kernel could not take as it is.
TEST(MonitorConfigTest, RejectsAMissingOrBrokenSeccompProgram) {
  const std::string text = SerializeMonitorConfig(FullConfig());
  const std::string hex = "00017f80abcdefff2000000004000000";
  ASSERT_NE(text.find(hex), std::string::npos) << text;
  auto with_program = [&](const std::string& replacement) {
    std::string changed = text;
    changed.replace(changed.find(hex), hex.size(), replacement);
    return ParseMonitorConfig(changed).status();
  };
  EXPECT_TRUE(with_program(hex).ok());
  EXPECT_EQ(with_program(hex.substr(0, 30)).code(), absl::StatusCode::kInvalidArgument)
      << "half an instruction";
  EXPECT_EQ(with_program("00017f80abcdefff20000000040000zz").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(with_program("00017F80ABCDEFFF2000000004000000").code(),
            absl::StatusCode::kInvalidArgument)
      << "upper case is not what quiltd writes";
  EXPECT_EQ(with_program(std::string(2 * 8 * 4097, '0')).code(), absl::StatusCode::kInvalidArgument)
      << "longer than BPF_MAXINSNS";
  std::string missing = text;
  missing.replace(missing.find("\"seccomp_program\""), 17, "\"seccomp_programx\"");
  absl::Status status = ParseMonitorConfig(missing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("seccomp_program"), absl::string_view::npos) << status;
}

TEST(MonitorStateTest, RoundTripsAndRejectsMissingField) {
  MonitorState in{123, 456, 1700000000123456789};
  absl::StatusOr<MonitorState> out = ParseMonitorState(SerializeMonitorState(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->monitor_pid, 123);
  EXPECT_EQ(out->init_pid, 456);
  EXPECT_EQ(out->started_at_ns, 1700000000123456789);
  EXPECT_EQ(ParseMonitorState(R"({"monitor_pid": 1, "init_pid": 2})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMonitorState("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MonitorExitTest, RoundTripsAndRejectsBadInput) {
  MonitorExit in{"Exited", "killed \"hard\"", 137, 9, 1700000000987654321};
  absl::StatusOr<MonitorExit> out = ParseMonitorExit(SerializeMonitorExit(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->reason, "Exited");
  EXPECT_EQ(out->message, "killed \"hard\"");
  EXPECT_EQ(out->exit_code, 137);
  EXPECT_EQ(out->signal, 9);
  EXPECT_EQ(out->finished_at_ns, 1700000000987654321);
  EXPECT_EQ(ParseMonitorExit(R"({"reason": "Exited"})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ParseMonitorExit(R"({"reason": 5, "exit_code": 0, "finished_at_ns": 1})").status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(DescribeStartFailureTest, FormatsStageDetailAndErrno) {
  StartReport report;
  report.kind = StartReport::kFailed;
  report.stage = static_cast<int32_t>(StartStage::kMounts);
  report.error = EACCES;
  strcpy(report.detail, "mount /proc");
  EXPECT_EQ(DescribeStartFailure(report), "mounts: mount /proc: Permission denied");

  report.stage = static_cast<int32_t>(StartStage::kExec);
  report.error = ENOENT;
  strcpy(report.detail, "working directory /x");
  EXPECT_EQ(DescribeStartFailure(report), "exec: working directory /x: No such file or directory");
}

TEST(DescribeStartFailureTest, FormatsSetupFailureWithOneBasedIndex) {
  StartReport report;
  report.kind = StartReport::kFailed;
  report.stage = static_cast<int32_t>(StartStage::kSetup);
  report.setup_index = 1;
  report.exit_code = 100;
  strcpy(report.detail, "apt-get install x");
  EXPECT_EQ(DescribeStartFailure(report),
            "setup command 2 (apt-get install x) exited with code 100");
}

}  // namespace
}  // namespace quilt
