// Containers end to end over gRPC: create, start, inspect, stop, kill, remove, errors.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

class LifecycleTest : public QuiltdTest {};

TEST_F(LifecycleTest, RunsEchoFromTheDefaultImage) {
  v1::Container c = Run(Spec({"echo", "hello"}));
  EXPECT_EQ(c.id().size(), 64u);
  v1::Container done = WaitFor(c.id());
  EXPECT_EQ(done.state(), v1::CONTAINER_STATE_EXITED);
  EXPECT_EQ(done.exit_code(), 0);
  EXPECT_EQ(done.reason(), "Exited");
  EXPECT_EQ(Logs(c.id()), "hello\n");
  EXPECT_TRUE(done.has_started_at());
  EXPECT_TRUE(done.has_finished_at());
}

TEST_F(LifecycleTest, ExitCodeAndStreamsAreKeptApart) {
  v1::Container c = Run(Spec({"sh", "-c", "echo out; echo err >&2; exit 3"}));
  v1::Container done = WaitFor(c.id());
  EXPECT_EQ(done.exit_code(), 3);
  EXPECT_EQ(Logs(c.id(), v1::LOG_STREAM_STDOUT), "out\n");
  EXPECT_EQ(Logs(c.id(), v1::LOG_STREAM_STDERR), "err\n");
}

TEST_F(LifecycleTest, OptionsAreApplied) {
  const std::string data = dir_ + "/data";
  ASSERT_EQ(mkdir(data.c_str(), 0755), 0);
  std::ofstream(data + "/in.txt") << "from host";
  v1::ContainerSpec spec =
      Spec({"sh", "-c",
            "echo user=$(id -u):$(id -g) pwd=$(pwd) host=$(hostname) foo=$FOO; cat /data/in.txt; "
            "echo; echo written > /data/out.txt; ls /sys/class/net | tr '\\n' ' '; echo; "
            "touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused"});
  spec.set_user("1234:5678");
  spec.set_working_dir("/tmp");
  spec.set_hostname("box");
  spec.add_env("FOO=bar baz");
  v1::Mount* rw = spec.add_mounts();
  rw->set_source(data);
  rw->set_destination("/data");
  v1::Mount* ro = spec.add_mounts();
  ro->set_source(data);
  ro->set_destination("/ro");
  ro->set_read_only(true);
  ASSERT_EQ(chmod(data.c_str(), 0777), 0);
  v1::Container c = Run(spec);
  EXPECT_EQ(WaitFor(c.id()).exit_code(), 0);
  const std::string out = Logs(c.id());
  EXPECT_THAT(out, HasSubstr("user=1234:5678 pwd=/tmp host=box foo=bar baz\n"));
  EXPECT_THAT(out, HasSubstr("from host\n"));
  EXPECT_THAT(out, HasSubstr("\nlo \n")) << "network none: only loopback";
  EXPECT_THAT(out, HasSubstr("ro-refused"));
  std::ifstream written(data + "/out.txt");
  std::string line;
  std::getline(written, line);
  EXPECT_EQ(line, "written");
}

TEST_F(LifecycleTest, ReadOnlyRootfsAndHostNetwork) {
  v1::ContainerSpec spec =
      Spec({"sh", "-c", "touch /x 2>/dev/null && echo rw || echo ro; ls /sys/class/net | wc -l"});
  spec.set_read_only_rootfs(true);
  spec.set_network(v1::NETWORK_MODE_HOST);
  v1::Container c = Run(spec);
  WaitFor(c.id());
  const std::string out = Logs(c.id());
  EXPECT_THAT(out, HasSubstr("ro\n")) << out;
  // The host has loopback plus at least one real interface.
  EXPECT_FALSE(absl::StartsWith(out.substr(3), "1\n")) << out;
}

TEST_F(LifecycleTest, InitIsPidOneAndOnlyStdioIsOpen) {
  v1::Container c = Run(Spec({"sh", "-c", "echo $$; ls /proc/self/fd | tr '\\n' ' '"}));
  WaitFor(c.id());
  const std::string out = Logs(c.id());
  // sh is the workload, a child of the container's init (pid 1).
  EXPECT_FALSE(absl::StartsWith(out, "1\n")) << out;
  // ls lists 0 1 2 and the fd it opened for the directory (3).
  EXPECT_THAT(out, HasSubstr("\n0 1 2 3 ")) << out;
}

TEST_F(LifecycleTest, StopEscalatesToSigkillForWorkloadsIgnoringSigterm) {
  v1::Container c =
      Run(Spec({"sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done"}));
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING);
  // Run returns once sh was exec'd, not once it ran the trap: a SIGTERM before that (seen on
  // the slow VM) kills it as it should.
  ASSERT_TRUE(WaitForLog(c.id(), "ready"));
  grpc::ClientContext ctx;
  v1::StopRequest stop;
  stop.set_ref(c.id());
  stop.set_timeout_seconds(1);
  v1::StopResponse stopped;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(containers_->Stop(&ctx, stop, &stopped).ok());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_EQ(stopped.container().state(), v1::CONTAINER_STATE_EXITED);
  EXPECT_EQ(stopped.container().exit_signal(), SIGKILL);
  EXPECT_EQ(stopped.container().exit_code(), 137);
}

TEST_F(LifecycleTest, StopWithSigtermReachesTheWorkload) {
  v1::Container c =
      Run(Spec({"sh", "-c",
                "trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.1; done"}));
  ASSERT_TRUE(WaitForLog(c.id(), "ready"));
  grpc::ClientContext ctx;
  v1::StopRequest stop;
  stop.set_ref(c.id());
  v1::StopResponse stopped;
  ASSERT_TRUE(containers_->Stop(&ctx, stop, &stopped).ok());
  EXPECT_EQ(stopped.container().exit_code(), 7);
  EXPECT_EQ(Logs(c.id()), "ready\ngot-term\n");
}

TEST_F(LifecycleTest, KillAndForcedRemoveOfARunningContainer) {
  v1::ContainerSpec spec = Spec({"sleep", "1000"});
  spec.set_name("sleeper");
  v1::Container c = Run(spec);
  {
    grpc::ClientContext ctx;
    v1::RemoveRequest rm;
    rm.set_ref("sleeper");
    v1::RemoveResponse resp;
    grpc::Status status = containers_->Remove(&ctx, rm, &resp);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(status.error_message(), HasSubstr("running"));
  }
  {
    grpc::ClientContext ctx;
    v1::KillRequest kill;
    kill.set_ref("sleeper");
    kill.set_signal(SIGKILL);
    v1::KillResponse resp;
    ASSERT_TRUE(containers_->Kill(&ctx, kill, &resp).ok());
  }
  EXPECT_EQ(WaitFor("sleeper").exit_code(), 137);
  v1::Container again = Run(Spec({"sleep", "1000"}));
  grpc::ClientContext ctx;
  v1::RemoveRequest rm;
  rm.set_ref(again.id().substr(0, 12));
  rm.set_force(true);
  v1::RemoveResponse resp;
  ASSERT_TRUE(containers_->Remove(&ctx, rm, &resp).ok());
  EXPECT_EQ(resp.id(), again.id());
  EXPECT_NE(access((state_dir_ + "/containers/" + again.id()).c_str(), F_OK), 0);
  EXPECT_TRUE(ContainerCgroups().empty() ||
              !absl::StrContains(absl::StrJoin(ContainerCgroups(), ","), again.id()));
}

TEST_F(LifecycleTest, CreateThenStartAndList) {
  grpc::ClientContext ctx;
  v1::CreateRequest create;
  *create.mutable_spec() = Spec({"sleep", "30"});
  create.mutable_spec()->set_name("later");
  v1::CreateResponse created;
  ASSERT_TRUE(containers_->Create(&ctx, create, &created).ok());
  EXPECT_EQ(created.container().state(), v1::CONTAINER_STATE_CREATED);

  auto list = [&](bool all) {
    grpc::ClientContext lctx;
    v1::ListRequest req;
    req.set_all(all);
    v1::ListResponse resp;
    EXPECT_TRUE(containers_->List(&lctx, req, &resp).ok());
    return resp.containers_size();
  };
  EXPECT_EQ(list(false), 0);
  EXPECT_EQ(list(true), 1);

  grpc::ClientContext sctx;
  v1::StartRequest start;
  start.set_ref("later");
  v1::StartResponse started;
  ASSERT_TRUE(containers_->Start(&sctx, start, &started).ok());
  EXPECT_EQ(started.container().state(), v1::CONTAINER_STATE_RUNNING);
  EXPECT_GT(started.container().pid(), 0);
  EXPECT_EQ(list(false), 1);

  grpc::ClientContext again_ctx;
  grpc::Status again = containers_->Start(&again_ctx, start, &started);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(LifecycleTest, SetupCommandsRunInOrderBeforeTheWorkload) {
  v1::ContainerSpec spec = Spec({"sh", "-c", "echo workload; cat /tmp/order"});
  spec.add_setup("echo one > /tmp/order; echo setup-one");
  spec.add_setup("echo two >> /tmp/order; echo setup-two >&2");
  v1::Container c = Run(spec);
  EXPECT_EQ(WaitFor(c.id()).exit_code(), 0);
  EXPECT_EQ(Logs(c.id(), v1::LOG_STREAM_STDOUT), "setup-one\nworkload\none\ntwo\n");
  EXPECT_EQ(Logs(c.id(), v1::LOG_STREAM_STDERR), "setup-two\n");

  grpc::ClientContext ctx;
  v1::LogsRequest request;
  request.set_ref(c.id());
  request.set_exclude_setup(true);
  auto reader = containers_->Logs(&ctx, request);
  std::string workload_only;
  v1::LogsResponse response;
  while (reader->Read(&response)) {
    for (const auto& e : response.entries()) {
      EXPECT_FALSE(e.setup());
      workload_only += e.data();
    }
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(workload_only, "workload\none\ntwo\n");
}

TEST_F(LifecycleTest, FailingSetupFailsTheContainerAndTheWorkloadNeverRuns) {
  v1::ContainerSpec spec = Spec({"sh", "-c", "echo workload-ran"});
  spec.add_setup("echo first");
  spec.add_setup("echo broken >&2; exit 4");
  spec.add_setup("echo never");
  v1::Container c = Run(spec);
  EXPECT_EQ(c.state(), v1::CONTAINER_STATE_FAILED);
  EXPECT_EQ(c.reason(), "SetupFailed");
  EXPECT_EQ(c.exit_code(), 4);
  EXPECT_THAT(c.message(), HasSubstr("exit 4"));
  EXPECT_THAT(c.message(), HasSubstr("2"));
  const std::string logs = Logs(c.id());
  EXPECT_THAT(logs, HasSubstr("first\n"));
  EXPECT_THAT(logs, HasSubstr("broken\n"));
  EXPECT_THAT(logs, ::testing::Not(HasSubstr("never")));
  EXPECT_THAT(logs, ::testing::Not(HasSubstr("workload-ran")));
}

TEST_F(LifecycleTest, MissingCommandFailsWithAClearMessage) {
  v1::Container c = Run(Spec({"/no/such/binary"}));
  EXPECT_EQ(c.state(), v1::CONTAINER_STATE_FAILED);
  EXPECT_EQ(c.reason(), "StartFailed");
  EXPECT_THAT(c.message(), HasSubstr("/no/such/binary"));
}

TEST_F(LifecycleTest, BadRequestsGetTheRightCodes) {
  auto create = [&](const v1::ContainerSpec& spec) {
    grpc::ClientContext ctx;
    v1::CreateRequest request;
    *request.mutable_spec() = spec;
    v1::CreateResponse response;
    return containers_->Create(&ctx, request, &response);
  };
  grpc::Status empty = create(Spec({}));
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty.error_message(), HasSubstr("spec.command"));

  v1::ContainerSpec bad_limit = Spec({"true"});
  bad_limit.mutable_resources()->set_memory_bytes(-5);
  EXPECT_EQ(create(bad_limit).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ContainerSpec missing_image = Spec({"true"});
  missing_image.set_image("no-such-image");
  EXPECT_EQ(create(missing_image).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ContainerSpec missing_tar = Spec({"true"});
  missing_tar.set_image("/no/such/image.tar");
  EXPECT_EQ(create(missing_tar).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ContainerSpec bad_user = Spec({"true"});
  bad_user.set_user("ghost");
  EXPECT_EQ(create(bad_user).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::ContainerSpec named = Spec({"true"});
  named.set_name("dup");
  EXPECT_TRUE(create(named).ok());
  grpc::Status dup = create(named);
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(dup.error_message(), HasSubstr("dup"));

  grpc::ClientContext ctx;
  v1::GetRequest get;
  get.set_ref("nosuchcontainer");
  v1::GetResponse got;
  grpc::Status unknown = containers_->Get(&ctx, get, &got);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(unknown.error_message(), HasSubstr("no such container"));

  // Nothing but the one good container was created.
  grpc::ClientContext lctx;
  v1::ListRequest list;
  list.set_all(true);
  v1::ListResponse listed;
  ASSERT_TRUE(containers_->List(&lctx, list, &listed).ok());
  EXPECT_EQ(listed.containers_size(), 1);
}

}  // namespace
}  // namespace quilt::testing
