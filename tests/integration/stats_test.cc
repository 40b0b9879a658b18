// Stats reads real cgroup usage of a running container, over gRPC and with quilt-cli.
#include <string>

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

}  // namespace
}  // namespace quilt::testing
