// quiltd can be killed at any time: containers keep running and logging, and a restarted
// daemon reports them correctly.
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

class RestartTest : public QuiltdTest {};

TEST_F(RestartTest, ContainersSurviveKillOfTheDaemon) {
  v1::ContainerSpec ticker =
      Spec({"sh", "-c", "i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i; sleep 0.1; done"});
  ticker.set_name("ticker");
  v1::Container running = Run(ticker);
  v1::ContainerSpec quick = Spec({"sh", "-c", "exit 5"});
  quick.set_name("quick");
  Run(quick);
  v1::ContainerSpec sleeper = Spec({"sleep", "1000"});
  sleeper.set_name("sleeper");
  Run(sleeper);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  KillDaemon();
  // While the daemon is down the ticker keeps writing (and finishes).
  std::this_thread::sleep_for(std::chrono::seconds(4));
  StartDaemon();

  v1::Container ticker_done = WaitFor("ticker");
  EXPECT_EQ(ticker_done.state(), v1::CONTAINER_STATE_EXITED);
  EXPECT_EQ(ticker_done.exit_code(), 0);
  std::string expected;
  for (int i = 1; i <= 30; ++i) absl::StrAppend(&expected, i, "\n");
  EXPECT_EQ(Logs("ticker"), expected);
  EXPECT_EQ(WaitFor("quick").exit_code(), 5);

  grpc::ClientContext ctx;
  v1::GetRequest get;
  get.set_ref("sleeper");
  v1::GetResponse got;
  ASSERT_TRUE(containers_->Get(&ctx, get, &got).ok());
  EXPECT_EQ(got.container().state(), v1::CONTAINER_STATE_RUNNING);
  // The adopted container can still be stopped.
  grpc::ClientContext sctx;
  v1::StopRequest stop;
  stop.set_ref("sleeper");
  stop.set_timeout_seconds(1);
  v1::StopResponse stopped;
  ASSERT_TRUE(containers_->Stop(&sctx, stop, &stopped).ok());
  EXPECT_EQ(stopped.container().state(), v1::CONTAINER_STATE_EXITED);
}

TEST_F(RestartTest, LeftoverBundlesWithoutARowAreRemoved) {
  const std::string orphan = state_dir_ + "/containers/" + std::string(64, 'a');
  ASSERT_EQ(mkdir(orphan.c_str(), 0700), 0);
  ASSERT_EQ(StopDaemon(), 0);
  StartDaemon();
  EXPECT_NE(access(orphan.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace quilt::testing
