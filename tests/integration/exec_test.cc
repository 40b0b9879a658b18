// Exec runs commands inside a running container: its filesystem, namespaces, cgroup and
// hardening; output streamed apart, exit codes, timeouts and concurrency.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

struct ExecOutcome {
  grpc::Status status;
  std::string out;
  std::string err;
  v1::ExecExit exit;
  bool got_exit = false;
};

class ExecTest : public QuiltdTest {
 protected:
  ExecOutcome Exec(const std::string& ref, const std::vector<std::string>& command,
                   const std::function<void(v1::ExecStart&)>& adjust = nullptr) {
    v1::ExecRequest request;
    v1::ExecStart& start = *request.mutable_start();
    start.set_ref(ref);
    for (const std::string& arg : command) start.add_command(arg);
    if (adjust) adjust(start);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    // The non-interactive shape: the start, then a half-close.
    auto reader = containers_->Exec(&ctx);
    reader->Write(request);
    reader->WritesDone();
    ExecOutcome outcome;
    v1::ExecResponse response;
    while (reader->Read(&response)) {
      if (response.has_exit()) {
        outcome.exit = response.exit();
        outcome.got_exit = true;
      } else if (response.output().stream() == v1::LOG_STREAM_STDERR) {
        outcome.err += response.output().data();
      } else {
        outcome.out += response.output().data();
      }
    }
    outcome.status = reader->Finish();
    return outcome;
  }

  // A running container whose workload wrote /tmp/marker, then sleeps.
  v1::Container RunSleeper(v1::ContainerSpec spec = Spec({})) {
    spec.clear_command();
    for (const char* arg :
         {"sh", "-c", "echo from-workload > /tmp/marker; echo ready; sleep 1000"}) {
      spec.add_command(arg);
    }
    v1::Container c = Run(spec);
    EXPECT_TRUE(WaitForLog(c.id(), "ready"));
    return c;
  }
};

TEST_F(ExecTest, EchoAndExitCodes) {
  v1::Container c = RunSleeper();
  ExecOutcome hi = Exec(c.id(), {"echo", "hi"});
  ASSERT_TRUE(hi.status.ok()) << hi.status.error_message();
  ASSERT_TRUE(hi.got_exit);
  EXPECT_EQ(hi.out, "hi\n");
  EXPECT_EQ(hi.exit.exit_code(), 0);
  EXPECT_FALSE(hi.exit.timed_out());

  ExecOutcome three = Exec(c.id(), {"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(three.status.ok()) << three.status.error_message();
  EXPECT_EQ(three.out, "out\n");
  EXPECT_EQ(three.err, "err\n");
  EXPECT_EQ(three.exit.exit_code(), 3);

  ExecOutcome missing = Exec(c.id(), {"no-such-command"});
  ASSERT_TRUE(missing.status.ok()) << missing.status.error_message();
  EXPECT_EQ(missing.exit.exit_code(), 127);
  EXPECT_THAT(missing.err, HasSubstr("no-such-command"));
}

TEST_F(ExecTest, ArgvIsVerbatim) {
  v1::Container c = RunSleeper();
  ExecOutcome result = Exec(c.id(), {"sh", "-c", "for a in \"$@\"; do echo \"[$a]\"; done", "sh",
                                     "two words", "'quoted'", "", "\"dq\" $HOME *"});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.out, "[two words]\n['quoted']\n[]\n[\"dq\" $HOME *]\n");
}

TEST_F(ExecTest, EnvWorkdirAndUser) {
  v1::ContainerSpec spec = Spec({});
  spec.add_env("FROM_SPEC=spec");
  v1::Container c = RunSleeper(spec);
  ExecOutcome result =
      Exec(c.id(), {"sh", "-c", "echo $FROM_SPEC $EXTRA; pwd; id -u; id -g"}, [](v1::ExecStart& r) {
        r.add_env("EXTRA=extra");
        r.set_working_dir("/tmp");
        r.set_user("1234:4321");
      });
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.out, "spec extra\n/tmp\n1234\n4321\n");
}

TEST_F(ExecTest, SeesTheContainersFilesystemHostnameAndProcesses) {
  v1::ContainerSpec spec = Spec({});
  spec.set_hostname("exec-box");
  v1::Container c = RunSleeper(spec);
  ExecOutcome result = Exec(c.id(), {"sh", "-c", "cat /tmp/marker; hostname; ps -o pid,comm"});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 3u) << result.out;
  EXPECT_EQ(lines[0], "from-workload");
  EXPECT_EQ(lines[1], "exec-box");
  // The container's pid namespace: its init is pid 1 and only a handful of processes exist
  // (init, the workload's sh and sleep, the exec's sh and ps).
  EXPECT_THAT(result.out, HasSubstr("sleep"));
  EXPECT_LE(lines.size(), 2u + 1u + 6u) << result.out;
  EXPECT_THAT(lines[3], ::testing::MatchesRegex(" *1 .*")) << result.out;
}

TEST_F(ExecTest, SameCgroupAndHardeningAsTheWorkload) {
  v1::Container c = RunSleeper();
  const std::string probe =
      "cat /proc/$1/cgroup; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/$1/status";
  // pid 1 is the init; the workload's sh is its child. Compare the exec's own view with the
  // workload's.
  ExecOutcome workload_pid = Exec(c.id(), {"sh", "-c", "pgrep -o sleep || pidof sleep"});
  ASSERT_TRUE(workload_pid.status.ok()) << workload_pid.status.error_message();
  const std::string pid(absl::StripAsciiWhitespace(workload_pid.out));
  ASSERT_FALSE(pid.empty());
  ExecOutcome workload = Exec(c.id(), {"sh", "-c", probe, "sh", pid});
  ExecOutcome self = Exec(c.id(), {"sh", "-c", probe, "sh", "self"});
  ASSERT_TRUE(workload.status.ok() && self.status.ok());
  EXPECT_THAT(self.out, HasSubstr("NoNewPrivs:\t1"));
  EXPECT_THAT(self.out, HasSubstr("Seccomp:\t2"));
  EXPECT_EQ(self.out, workload.out);
}

TEST_F(ExecTest, TenConcurrentExecs) {
  v1::Container c = RunSleeper();
  std::vector<ExecOutcome> results(10);
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] {
      results[i] = Exec(c.id(), {"sh", "-c", "sleep 0.5; echo $0", std::to_string(i)});
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(results[i].status.ok()) << results[i].status.error_message();
    EXPECT_EQ(results[i].out, std::to_string(i) + "\n");
    EXPECT_EQ(results[i].exit.exit_code(), 0);
  }
}

TEST_F(ExecTest, TimeoutKillsTheCommand) {
  v1::Container c = RunSleeper();
  const auto start = std::chrono::steady_clock::now();
  ExecOutcome result = Exec(c.id(), {"sh", "-c", "sleep 100 & sleep 100"},
                            [](v1::ExecStart& r) { r.set_timeout_seconds(1); });
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.exit.timed_out());
  EXPECT_EQ(result.exit.signal(), SIGKILL);
  EXPECT_EQ(result.exit.exit_code(), 137);
  EXPECT_LT(elapsed, std::chrono::milliseconds(2500));
  // Both sleeps were in the command's process group: none is left.
  ExecOutcome ps = Exec(c.id(), {"sh", "-c", "ps -o args | grep -c '^sleep 100$' || true"});
  EXPECT_EQ(ps.out, "0\n");
}

TEST_F(ExecTest, CancelledCallKillsTheCommand) {
  v1::Container c = RunSleeper();
  {
    v1::ExecRequest request;
    request.mutable_start()->set_ref(c.id());
    for (const char* arg : {"sh", "-c", "echo started; sleep 100"}) {
      request.mutable_start()->add_command(arg);
    }
    grpc::ClientContext ctx;
    auto reader = containers_->Exec(&ctx);
    reader->Write(request);
    v1::ExecResponse first;
    ASSERT_TRUE(reader->Read(&first));
    EXPECT_EQ(first.output().data(), "started\n");
    ctx.TryCancel();
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  std::string left;
  for (int i = 0; i < 50; ++i) {
    left = Exec(c.id(), {"sh", "-c", "ps -o args | grep -c '^sleep 100$' || true"}).out;
    if (left == "0\n") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(left, "0\n");
}

TEST_F(ExecTest, NotRunningAndUnknown) {
  v1::Container c = Run(Spec({"true"}));
  WaitFor(c.id());
  ExecOutcome exited = Exec(c.id(), {"echo", "hi"});
  EXPECT_EQ(exited.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << exited.status.error_message();
  EXPECT_FALSE(exited.got_exit);
  ExecOutcome unknown = Exec("no-such-container", {"echo", "hi"});
  EXPECT_EQ(unknown.status.error_code(), grpc::StatusCode::NOT_FOUND);
  ExecOutcome empty = Exec(c.id(), {});
  EXPECT_EQ(empty.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ExecTest, CliCopiesOutputAndExitCode) {
  v1::Container c = RunSleeper();
  CommandResult result = Cli({"exec", "-e", "X=1", "-w", "/tmp", c.id(), "--", "sh", "-c",
                              "echo $X $(pwd); echo e >&2; exit 5"});
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_EQ(result.out, "1 /tmp\n");
  EXPECT_EQ(result.err, "e\n");
}

}  // namespace
}  // namespace quilt::testing
