// Stats reads real cgroup usage of a running container, and Top its processes, over gRPC and
// with quilt-cli.
#include <algorithm>
#include <string>
#include <vector>

#include "common/fs.h"
#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

class StatsTest : public QuiltdTest {
 protected:
  grpc::Status Stats(const std::string& ref, v1::StatsResponse* response) {
    grpc::ClientContext ctx;
    v1::StatsRequest request;
    request.set_ref(ref);
    return containers_->Stats(&ctx, request, response);
  }
};

TEST_F(StatsTest, RunningContainerReportsUsageAndLimit) {
  // A busy loop in a child shell: the init, the shell and the loop's subshell are running.
  v1::ContainerSpec spec = Spec({"sh", "-c", "(while :; do :; done) & echo started; wait"});
  spec.mutable_resources()->set_memory_bytes(64 << 20);
  v1::Container c = Run(spec);
  ASSERT_TRUE(WaitForLog(c.id(), "started"));

  v1::StatsResponse first;
  ASSERT_TRUE(Stats(c.id(), &first).ok());
  EXPECT_EQ(first.id(), c.id());
  EXPECT_EQ(first.memory_limit(), 64 << 20);
  EXPECT_GT(first.memory_current(), 0);
  EXPECT_GE(first.pids_current(), 2);
  EXPECT_EQ(first.oom_kills(), 0);

  usleep(500'000);
  v1::StatsResponse second;
  ASSERT_TRUE(Stats(c.id().substr(0, 12), &second).ok());
  // Half a second of a spinning loop is far more than 50 ms of CPU, even on a loaded host.
  EXPECT_GT(second.cpu_usage_ns() - first.cpu_usage_ns(), 50'000'000);
}

TEST_F(StatsTest, ExitedContainerIsAFailedPrecondition) {
  v1::Container c = Run(Spec({"true"}));
  WaitFor(c.id());
  v1::StatsResponse response;
  grpc::Status status = Stats(c.id(), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("not running"));
}

TEST_F(StatsTest, UnknownContainerIsNotFound) {
  v1::StatsResponse response;
  EXPECT_EQ(Stats("no-such-container", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(StatsTest, CliPrintsATableAndJson) {
  v1::ContainerSpec spec = Spec({"sleep", "1000"});
  spec.mutable_resources()->set_memory_bytes(64 << 20);
  v1::Container c = Run(spec);

  CommandResult table = Cli({"stats", "--no-stream", c.id()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, ::testing::HasSubstr("MEM USAGE / LIMIT"));
  EXPECT_THAT(table.out, ::testing::HasSubstr(c.id().substr(0, 12)));
  EXPECT_THAT(table.out, ::testing::HasSubstr(" / 64MiB"));

  CommandResult json = Cli({"stats", "--no-stream", "--json", c.id()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json parsed = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(parsed.is_array()) << json.out;
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0]["id"], c.id());
  EXPECT_EQ(parsed[0]["memory_limit"], 64 << 20);
  EXPECT_TRUE(parsed[0]["cpu_percent"].is_number());

  CommandResult missing = Cli({"stats", "--no-stream", "no-such-container"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("quilt-cli: "));
}

class TopTest : public QuiltdTest {
 protected:
  grpc::Status Top(const std::string& ref, v1::TopResponse* response) {
    grpc::ClientContext ctx;
    v1::TopRequest request;
    request.set_ref(ref);
    return containers_->Top(&ctx, request, response);
  }

  // Top of `ref` once every command of `argvs` runs in it under its own name (a forked child
  // shows its parent's command line until it has exec'd, and busybox, exec'd through
  // /proc/self/exe, is named "exe" until it renames itself); the last answer after 5 s
  // otherwise.
  v1::TopResponse TopOnceRunning(const std::string& ref,
                                 const std::vector<std::vector<std::string>>& argvs) {
    v1::TopResponse top;
    for (int i = 0; i < 100; ++i) {
      if (Top(ref, &top).ok() &&
          std::all_of(argvs.begin(), argvs.end(), [&top](const std::vector<std::string>& argv) {
            const v1::ContainerProcess* process = Find(top, argv);
            return process != nullptr && process->name() == argv[0];
          })) {
        break;
      }
      usleep(50'000);
    }
    return top;
  }

  static const v1::ContainerProcess* Find(const v1::TopResponse& top,
                                          const std::vector<std::string>& argv) {
    for (const v1::ContainerProcess& p : top.processes()) {
      if (std::vector<std::string>(p.argv().begin(), p.argv().end()) == argv) return &p;
    }
    return nullptr;
  }
};

TEST_F(TopTest, ListsTheProcessesWithTheirParentsInTheContainer) {
  v1::Container c = Run(Spec({"sh", "-c", "sleep 1001 & sleep 1002 & echo started; wait"}));
  ASSERT_TRUE(WaitForLog(c.id(), "started"));
  const v1::TopResponse top =
      TopOnceRunning(c.id().substr(0, 12), {{"sleep", "1001"}, {"sleep", "1002"}});
  EXPECT_EQ(top.id(), c.id());
  const v1::ContainerProcess* shell =
      Find(top, {"sh", "-c", "sleep 1001 & sleep 1002 & echo started; wait"});
  const v1::ContainerProcess* first = Find(top, {"sleep", "1001"});
  const v1::ContainerProcess* second = Find(top, {"sleep", "1002"});
  ASSERT_NE(shell, nullptr) << top.DebugString();
  ASSERT_NE(first, nullptr) << top.DebugString();
  ASSERT_NE(second, nullptr) << top.DebugString();
  EXPECT_EQ(first->ppid(), shell->pid());
  EXPECT_EQ(second->ppid(), shell->pid());
  EXPECT_EQ(first->name(), "sleep");
  EXPECT_EQ(first->uid(), 0u);
  EXPECT_THAT(first->state(), ::testing::MatchesRegex("[RSD]"));  // just exec'd, or asleep
  EXPECT_GT(first->rss_bytes(), 0);
  // Pids as the container sees them, and on the host.
  EXPECT_LT(shell->pid(), 10);
  const absl::StatusOr<std::string> cmdline =
      ReadFile("/proc/" + std::to_string(first->host_pid()) + "/cmdline");
  ASSERT_TRUE(cmdline.ok()) << cmdline.status();
  EXPECT_EQ(*cmdline, std::string("sleep\0"
                                  "1001\0",
                                  11));
  // The first process's parent (the monitor) is outside; every other parent is listed.
  int outside = 0;
  for (const v1::ContainerProcess& p : top.processes()) {
    if (p.ppid() == 0) {
      ++outside;
      continue;
    }
    EXPECT_TRUE(std::any_of(top.processes().begin(), top.processes().end(),
                            [&p](const v1::ContainerProcess& q) { return q.pid() == p.ppid(); }))
        << p.DebugString();
  }
  EXPECT_EQ(outside, 1) << top.DebugString();
  EXPECT_TRUE(std::is_sorted(top.processes().begin(), top.processes().end(),
                             [](const v1::ContainerProcess& a, const v1::ContainerProcess& b) {
                               return a.pid() < b.pid();
                             }));
}

TEST_F(TopTest, StoppedOrUnknownContainersHaveNoProcesses) {
  v1::Container c = Run(Spec({"true"}));
  WaitFor(c.id());
  v1::TopResponse response;
  grpc::Status exited = Top(c.id(), &response);
  EXPECT_EQ(exited.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << exited.error_message();
  EXPECT_THAT(exited.error_message(), ::testing::HasSubstr("not running"));
  EXPECT_EQ(Top("no-such-container", &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(TopTest, CliPrintsATableAndJson) {
  // A command line with a control byte: printed escaped, never raw to the terminal. (The
  // shell keeps its argv: it runs sleep as a child, having more to do after it.)
  const std::vector<std::string> shell = {"sh", "-c", "sleep 1003; true", "a\033b"};
  v1::Container c = Run(Spec(shell));
  const v1::TopResponse top = TopOnceRunning(c.id(), {{"sleep", "1003"}});
  ASSERT_NE(Find(top, {"sleep", "1003"}), nullptr) << top.DebugString();
  ASSERT_NE(Find(top, shell), nullptr) << top.DebugString();

  CommandResult table = Cli({"top", c.id()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, ::testing::HasSubstr("HOST PID"));
  EXPECT_THAT(table.out, ::testing::HasSubstr("sh -c 'sleep 1003; true' 'a\\x1bb'"));
  EXPECT_EQ(table.out.find('\033'), std::string::npos);

  CommandResult json = Cli({"top", "--json", c.id()});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  nlohmann::json parsed = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(parsed.is_object()) << json.out;
  EXPECT_EQ(parsed["id"], c.id());
  ASSERT_TRUE(parsed["processes"].is_array()) << json.out;
  EXPECT_FALSE(parsed["processes"].empty());

  CommandResult missing = Cli({"top", "no-such-container"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, ::testing::HasSubstr("quilt-cli: "));
}

}  // namespace
}  // namespace quilt::testing
