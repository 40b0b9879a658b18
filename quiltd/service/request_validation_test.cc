#include "quiltd/service/request_validation.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace quilt {
namespace {

using ::testing::HasSubstr;

v1::ContainerSpec GoodSpec() {
  v1::ContainerSpec spec;
  spec.set_name("web-1");
  spec.add_command("echo");
  spec.add_command("hello world");
  spec.add_env("A=1");
  spec.set_working_dir("/srv");
  spec.set_hostname("box.local");
  spec.add_setup("true");
  spec.mutable_resources()->set_memory_bytes(64 << 20);
  spec.mutable_resources()->set_cpus(0.5);
  spec.mutable_resources()->set_pids_max(64);
  v1::Mount* mount = spec.add_mounts();
  mount->set_source("/tmp");
  mount->set_destination("/data");
  return spec;
}

void AddUlimit(v1::ContainerSpec& spec, const std::string& name, int64_t soft, int64_t hard) {
  v1::Ulimit* limit = spec.add_ulimits();
  limit->set_name(name);
  limit->set_soft(soft);
  limit->set_hard(hard);
}

TEST(ValidateSpecTest, GoodSpecPasses) { EXPECT_TRUE(ValidateSpec(GoodSpec()).ok()); }

struct BadCase {
  const char* field;
  std::function<void(v1::ContainerSpec&)> mutate;
};

TEST(ValidateSpecTest, EachBadFieldIsNamed) {
  const std::string huge(1 << 20, 'x');
  const std::string non_utf8 = "\xff\xfe";
  const std::string with_nul("a\0b", 3);
  const std::vector<BadCase> cases = {
      {"spec.name", [](auto& s) { s.set_name("../etc"); }},
      {"spec.name", [&](auto& s) { s.set_name(huge); }},
      {"spec.entrypoint[0]", [](auto& s) { s.add_entrypoint(""); }},
      {"spec.command[0]", [](auto& s) { s.set_command(0, ""); }},
      {"spec.command[1]", [&](auto& s) { s.set_command(1, with_nul); }},
      {"spec.command[1]", [&](auto& s) { s.set_command(1, huge); }},
      {"spec.command[1]", [&](auto& s) { s.set_command(1, non_utf8); }},
      {"spec.env[0]", [](auto& s) { s.set_env(0, "NOEQUALS"); }},
      {"spec.env[0]", [](auto& s) { s.set_env(0, "=value"); }},
      {"spec.working_dir", [](auto& s) { s.set_working_dir("relative"); }},
      {"spec.working_dir", [](auto& s) { s.set_working_dir("/a/../b"); }},
      {"spec.user", [&](auto& s) { s.set_user(huge); }},
      {"spec.hostname", [](auto& s) { s.set_hostname("bad host"); }},
      {"spec.log_max_bytes", [](auto& s) { s.set_log_max_bytes(1000); }},
      {"spec.log_max_bytes", [](auto& s) { s.set_log_max_bytes(-1); }},
      {"spec.log_max_files", [](auto& s) { s.set_log_max_files(65); }},
      {"spec.log_max_files", [](auto& s) { s.set_log_max_files(-2); }},
      {"spec.hostname", [](auto& s) { s.set_hostname(std::string(65, 'h')); }},
      {"spec.setup[0]", [](auto& s) { s.set_setup(0, ""); }},
      {"spec.resources.memory_bytes", [](auto& s) { s.mutable_resources()->set_memory_bytes(-1); }},
      {"spec.resources.memory_bytes", [](auto& s) { s.mutable_resources()->set_memory_bytes(10); }},
      {"spec.resources.cpus", [](auto& s) { s.mutable_resources()->set_cpus(-0.5); }},
      {"spec.resources.cpus", [](auto& s) { s.mutable_resources()->set_cpus(1e9); }},
      {"spec.resources.pids_max", [](auto& s) { s.mutable_resources()->set_pids_max(-3); }},
      {"spec.mounts[0].source", [](auto& s) { s.mutable_mounts(0)->set_source("tmp"); }},
      {"spec.mounts[0].destination", [](auto& s) { s.mutable_mounts(0)->set_destination("/"); }},
      {"spec.mounts[0].destination",
       [](auto& s) { s.mutable_mounts(0)->set_destination("/x/../../etc"); }},
      {"spec.image", [](auto& s) { s.set_image("/images/../x.tar"); }},
      {"spec.network", [](auto& s) { s.set_network(static_cast<v1::NetworkMode>(42)); }},
      {"spec.cap_add[1]",
       [](auto& s) {
         s.add_cap_add("NET_RAW");
         s.add_cap_add("NET_RAWW");
       }},
      {"spec.cap_drop[0]", [](auto& s) { s.add_cap_drop("CAP_"); }},
      {"spec.seccomp", [](auto& s) { s.set_seccomp("off"); }},
      {"spec.ulimits[0].name", [](auto& s) { AddUlimit(s, "NOFILE", 1, 2); }},
      {"spec.ulimits[0].name", [&](auto& s) { AddUlimit(s, with_nul, 1, 2); }},
      {"spec.ulimits[1].name",
       [](auto& s) {
         AddUlimit(s, "nofile", 1, 2);
         AddUlimit(s, "nofile", 1, 2);
       }},
      {"spec.ulimits[0]", [](auto& s) { AddUlimit(s, "nproc", 10, 5); }},
      {"spec.ulimits[0]", [](auto& s) { AddUlimit(s, "nproc", -1, 5); }},
      {"spec.ulimits[0]", [](auto& s) { AddUlimit(s, "core", -2, -1); }},
      {"spec.shm_size_bytes", [](auto& s) { s.set_shm_size_bytes(100); }},
      {"spec.shm_size_bytes", [](auto& s) { s.set_shm_size_bytes(-1); }},
      {"spec.tmpfs[0].destination", [](auto& s) { s.add_tmpfs()->set_destination("tmp"); }},
      {"spec.tmpfs[0].destination", [](auto& s) { s.add_tmpfs()->set_destination("/"); }},
      {"spec.tmpfs[0].destination", [](auto& s) { s.add_tmpfs()->set_destination("/data"); }},
      {"spec.tmpfs[1].destination",
       [](auto& s) {
         s.add_tmpfs()->set_destination("/t");
         s.add_tmpfs()->set_destination("/t");
       }},
      {"spec.tmpfs[0].size_bytes",
       [](auto& s) {
         v1::TmpfsMount* t = s.add_tmpfs();
         t->set_destination("/t");
         t->set_size_bytes(10);
       }},
      {"spec.tmpfs[0].mode",
       [](auto& s) {
         v1::TmpfsMount* t = s.add_tmpfs();
         t->set_destination("/t");
         t->set_mode(010000);
       }},
  };
  for (const BadCase& c : cases) {
    v1::ContainerSpec spec = GoodSpec();
    c.mutate(spec);
    absl::Status status = ValidateSpec(spec);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(status.message(), HasSubstr(c.field)) << status;
  }
}

TEST(ValidateSpecTest, SecurityOptionsAndPidsDefaults) {
  v1::ContainerSpec spec = GoodSpec();
  spec.add_cap_add("net_raw");
  spec.add_cap_add("CAP_SYS_PTRACE");
  spec.add_cap_drop("ALL");
  spec.set_seccomp("unconfined");
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.set_seccomp("default");
  EXPECT_TRUE(ValidateSpec(spec).ok());
  spec.mutable_resources()->set_pids_max(-1);
  EXPECT_TRUE(ValidateSpec(spec).ok()) << "-1: no pids limit";
  spec.mutable_resources()->set_pids_max(0);
  EXPECT_TRUE(ValidateSpec(spec).ok()) << "0: the default limit";
  spec.add_cap_add("FLY");
  EXPECT_EQ(ValidateSpec(spec).message(), "spec.cap_add[2]: unknown capability \"FLY\"");
}

TEST(ValidateSpecTest, TmpfsMounts) {
  v1::ContainerSpec spec = GoodSpec();
  v1::TmpfsMount* scratch = spec.add_tmpfs();
  scratch->set_destination("/scratch");
  scratch->set_size_bytes(1 << 20);
  scratch->set_mode(0700);
  scratch->set_exec(true);
  spec.add_tmpfs()->set_destination("/data/cache");  // inside the bind mount at /data
  EXPECT_TRUE(ValidateSpec(spec).ok()) << ValidateSpec(spec);
}

TEST(ValidateSpecTest, Ulimits) {
  v1::ContainerSpec spec = GoodSpec();
  AddUlimit(spec, "nofile", 512, 1024);
  AddUlimit(spec, "core", 0, -1);
  AddUlimit(spec, "stack", -1, -1);
  AddUlimit(spec, "nproc", 100, 100);
  EXPECT_TRUE(ValidateSpec(spec).ok()) << ValidateSpec(spec);
  AddUlimit(spec, "files", 1, 1);
  EXPECT_THAT(ValidateSpec(spec).message(),
              HasSubstr("spec.ulimits[4].name: unknown limit \"files\" (want one of as, core"));
}

TEST(ValidateRefTest, RefsAndSignals) {
  EXPECT_TRUE(ValidateRef("abc").ok());
  EXPECT_EQ(ValidateRef("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRef(std::string(300, 'a')).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateRef(std::string("a\0", 2)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateSignal(0).ok());
  EXPECT_TRUE(ValidateSignal(15).ok());
  EXPECT_FALSE(ValidateSignal(-1).ok());
  EXPECT_FALSE(ValidateSignal(65).ok());
}

TEST(ValidateRequestTest, ImportAndStop) {
  v1::ImportRequest import;
  import.set_path("rel/path.tar");
  EXPECT_THAT(ValidateImportRequest(import).message(), HasSubstr("path"));
  import.set_path("/abs/x.tar");
  import.set_name("bad/name");
  EXPECT_THAT(ValidateImportRequest(import).message(), HasSubstr("name"));
  import.set_name("good");
  EXPECT_TRUE(ValidateImportRequest(import).ok());

  v1::StopRequest stop;
  stop.set_ref("x");
  EXPECT_TRUE(ValidateStopRequest(stop).ok());
  stop.set_timeout_seconds(-5);
  EXPECT_THAT(ValidateStopRequest(stop).message(), HasSubstr("timeout_seconds"));
}

TEST(ValidateRequestTest, ExecStart) {
  v1::ExecStart good;
  good.set_ref("web-1");
  good.add_command("echo");
  good.add_command("");
  good.add_env("A=1");
  good.set_working_dir("/tmp");
  good.set_timeout_seconds(5);
  EXPECT_TRUE(ValidateExecStart(good).ok());
  good.set_tty(true);
  good.set_stdin_open(true);
  good.mutable_terminal_size()->set_rows(24);
  good.mutable_terminal_size()->set_columns(80);
  EXPECT_TRUE(ValidateExecStart(good).ok());

  const std::vector<std::pair<std::function<void(v1::ExecStart&)>, std::string>> bad = {
      {[](v1::ExecStart& r) { r.clear_ref(); }, "ref"},
      {[](v1::ExecStart& r) { r.clear_command(); }, "start.command"},
      {[](v1::ExecStart& r) { r.set_command(0, ""); }, "start.command[0]"},
      {[](v1::ExecStart& r) { r.add_env("NOVALUE"); }, "start.env[1]"},
      {[](v1::ExecStart& r) { r.set_working_dir("tmp"); }, "start.working_dir"},
      {[](v1::ExecStart& r) { r.set_timeout_seconds(-1); }, "start.timeout_seconds"},
      {[](v1::ExecStart& r) { r.set_timeout_seconds(30 * 24 * 3600 + 1); },
       "start.timeout_seconds"},
      {[](v1::ExecStart& r) { r.set_tty(false); }, "start.terminal_size"},
      {[](v1::ExecStart& r) { r.mutable_terminal_size()->set_rows(70000); },
       "start.terminal_size.rows"},
      {[](v1::ExecStart& r) { r.mutable_terminal_size()->set_columns(1 << 20); },
       "start.terminal_size.columns"},
  };
  for (const auto& [mutate, field] : bad) {
    v1::ExecStart request = good;
    mutate(request);
    absl::Status status = ValidateExecStart(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(status.message(), HasSubstr(field + ":"));
  }
}

TEST(ValidateRequestTest, Events) {
  v1::EventsRequest good;
  good.set_since_seq(0);
  good.set_container("web-1");
  good.add_types(v1::EVENT_TYPE_EXITED);
  good.add_types(v1::EVENT_TYPE_IMAGE_REMOVED);
  EXPECT_TRUE(ValidateEventsRequest(good).ok());
  EXPECT_TRUE(ValidateEventsRequest(v1::EventsRequest()).ok());

  const std::vector<std::pair<std::function<void(v1::EventsRequest&)>, std::string>> bad = {
      {[](v1::EventsRequest& r) { r.set_since_seq(-1); }, "since_seq"},
      {[](v1::EventsRequest& r) { r.set_container(std::string(300, 'a')); }, "container"},
      {[](v1::EventsRequest& r) { r.add_types(v1::EVENT_TYPE_UNSPECIFIED); }, "types[2]"},
      {[](v1::EventsRequest& r) { r.set_types(0, static_cast<v1::EventType>(99)); }, "types[0]"},
  };
  for (const auto& [mutate, field] : bad) {
    v1::EventsRequest request = good;
    mutate(request);
    absl::Status status = ValidateEventsRequest(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(status.message(), HasSubstr(field + ":"));
  }
}

TEST(ValidateRequestTest, ListAndLogs) {
  v1::ListRequest list;
  list.set_name_contains("web");
  EXPECT_TRUE(ValidateListRequest(list).ok());
  list.set_name_contains(std::string(129, 'a'));
  EXPECT_THAT(ValidateListRequest(list).message(), HasSubstr("name_contains:"));
  list.clear_name_contains();
  list.set_state(static_cast<v1::ContainerState>(99));
  EXPECT_THAT(ValidateListRequest(list).message(), HasSubstr("state:"));

  v1::LogsRequest logs;
  logs.set_ref("web");
  logs.mutable_since()->set_seconds(1700000000);
  EXPECT_TRUE(ValidateLogsRequest(logs).ok());
  logs.mutable_since()->set_nanos(1'000'000'000);
  EXPECT_THAT(ValidateLogsRequest(logs).message(), HasSubstr("since:"));
  logs.clear_since();
  logs.set_stream(static_cast<v1::LogStream>(7));
  EXPECT_THAT(ValidateLogsRequest(logs).message(), HasSubstr("stream:"));
  logs.clear_stream();
  logs.set_tail(-1);
  EXPECT_THAT(ValidateLogsRequest(logs).message(), HasSubstr("tail:"));
}

TEST(ValidateRequestTest, EchoedKeywordsAreBoundedFirst) {
  v1::ContainerSpec spec;
  spec.add_command("true");
  spec.set_seccomp(std::string(1 << 20, 'x'));
  absl::Status status = ValidateSpec(spec);
  EXPECT_THAT(status.message(), HasSubstr("spec.seccomp: longer than 64"));
  EXPECT_LT(status.message().size(), 200u);
  spec.clear_seccomp();
  spec.add_cap_add("\xff\xfe");
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("spec.cap_add[0]: not valid UTF-8"));
  spec.clear_cap_add();
  // The fuzzer's find: a userns value holding a NUL byte was echoed into the message.
  spec.set_userns(std::string("eb\0d:1", 6));
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("spec.userns: holds a NUL byte"));
  spec.set_userns(std::string(1 << 20, '7'));
  EXPECT_THAT(ValidateSpec(spec).message(), HasSubstr("spec.userns: longer than 64"));
}

TEST(ValidateRequestTest, ImportFile) {
  EXPECT_EQ(CheckImportFile("/nonexistent/x.tar").code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(CheckImportFile("/").message(), HasSubstr("path: a directory but not an image"));
  EXPECT_THAT(CheckImportFile("/dev/null").message(),
              HasSubstr("path: not a regular file or a directory"));
}

TEST(ValidateRequestTest, Copy) {
  v1::CopyToRequest to;
  to.set_ref("web-1");
  to.set_path("/srv/./data");
  to.set_source_name("app.conf");
  EXPECT_TRUE(ValidateCopyToRequest(to).ok());
  const std::vector<std::pair<std::function<void(v1::CopyToRequest&)>, std::string>> bad = {
      {[](v1::CopyToRequest& r) { r.clear_ref(); }, "ref"},
      {[](v1::CopyToRequest& r) { r.set_path("srv"); }, "path"},
      {[](v1::CopyToRequest& r) { r.set_path("/srv/../etc"); }, "path"},
      {[](v1::CopyToRequest& r) { r.set_source_name("a/b"); }, "source_name"},
      {[](v1::CopyToRequest& r) { r.set_source_name(".."); }, "source_name"},
  };
  for (const auto& [mutate, field] : bad) {
    v1::CopyToRequest request = to;
    mutate(request);
    absl::Status status = ValidateCopyToRequest(request);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(status.message(), HasSubstr(field + ":"));
  }

  v1::CopyFromRequest from;
  from.set_ref("web-1");
  from.set_path("/etc/.");
  EXPECT_TRUE(ValidateCopyFromRequest(from).ok());
  from.set_path("/etc/..");
  EXPECT_THAT(ValidateCopyFromRequest(from).message(), HasSubstr("path:"));
}

}  // namespace
}  // namespace quilt
