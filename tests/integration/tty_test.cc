// Interactive sessions: quilt-cli exec/run with -i and -t driven from a real pseudo-terminal
// (typing, echo, Ctrl-C, resizes, exit codes), stdin through pipes, and the Exec/Attach
// streams at the gRPC level, including an attach after quiltd was restarted.
#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "tests/integration/pty_session.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class TtyTest : public QuiltdTest {
 protected:
  // quilt-cli on a new terminal of rows x columns.
  std::unique_ptr<PtySession> CliOnTerminal(const std::vector<std::string>& args,
                                            unsigned short rows = 24, unsigned short columns = 80) {
    std::vector<std::string> argv = {QUILT_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    auto session = std::make_unique<PtySession>(
        argv, std::vector<std::string>{"QUILT_SOCKET=" + socket_}, rows, columns);
    EXPECT_TRUE(session->started());
    return session;
  }

  // A running container that sleeps.
  v1::Container RunSleeper(v1::ContainerSpec spec = Spec({"sleep", "1000"})) { return Run(spec); }

  // A shell (sh via sh -c) with its output through the pipe sh -c CMD gives, QUILT_SOCKET set.
  CommandResult Shell(const std::string& command) {
    return RunCommand({"/bin/sh", "-c", command}, {"QUILT_SOCKET=" + socket_});
  }

  // Reads an Exec stream to its end: output (both streams) and the exit code (-1 if none).
  template <typename Stream>
  static std::pair<std::string, int> ReadExec(Stream& stream) {
    std::string out;
    int code = -1;
    v1::ExecResponse response;
    while (stream->Read(&response)) {
      if (response.has_exit())
        code = response.exit().exit_code();
      else
        out += response.output().data();
    }
    return {out, code};
  }

  static v1::ExecRequest Start(const std::string& ref, const std::vector<std::string>& command) {
    v1::ExecRequest request;
    request.mutable_start()->set_ref(ref);
    for (const std::string& arg : command) request.mutable_start()->add_command(arg);
    return request;
  }

  static v1::ExecRequest StdinData(const std::string& data) {
    v1::ExecRequest request;
    request.mutable_input()->set_stdin_data(data);
    return request;
  }
};

TEST_F(TtyTest, ExecItIsAShellOnTheContainersTerminal) {
  v1::Container c = RunSleeper();
  auto session = CliOnTerminal({"exec", "-it", c.id(), "--", "sh"}, 33, 111);
  ASSERT_TRUE(session->WaitFor("# ")) << session->output();
  // The container's terminal echoes what we type; the shell then runs it.
  session->Type("echo he''llo-$((6*7))\r");
  ASSERT_TRUE(session->WaitFor("echo he''llo-$((6*7))")) << session->output();
  ASSERT_TRUE(session->WaitFor("hello-42")) << session->output();
  session->Type("tty; stty size\r");
  ASSERT_TRUE(session->WaitFor("/dev/pts/")) << session->output();
  ASSERT_TRUE(session->WaitFor("33 111")) << session->output();
  session->Resize(40, 120);
  // SIGWINCH reaches quilt-cli, and the resize the container's terminal, asynchronously.
  bool resized = false;
  for (int i = 0; i < 20 && !resized; ++i) {
    session->Type("stty size\r");
    resized = session->WaitFor("40 120", absl::Milliseconds(500));
  }
  ASSERT_TRUE(resized) << session->output();
  session->Type("exit 3\r");
  EXPECT_EQ(session->Wait(), 3) << session->output();
}

TEST_F(TtyTest, CtrlCReachesTheProcessInTheContainer) {
  v1::Container c = RunSleeper();
  auto session =
      CliOnTerminal({"exec", "-it", c.id(), "--", "sh", "-c", "echo ready; exec sleep 100"});
  ASSERT_TRUE(session->WaitFor("ready")) << session->output();
  const auto start = std::chrono::steady_clock::now();
  session->Type("\x03");
  EXPECT_EQ(session->Wait(), 130) << session->output();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // The sleep is gone from the container.
  CommandResult ps =
      Cli({"exec", c.id(), "--", "sh", "-c", "ps -o args | grep -c '^sleep 100$' || true"});
  EXPECT_EQ(ps.out, "0\n");
}

TEST_F(TtyTest, TerminalIsRestoredWhenQuiltCliIsSignalled) {
  v1::Container c = RunSleeper();
  for (int signal : {SIGTERM, SIGHUP}) {
    auto session =
        CliOnTerminal({"exec", "-it", c.id(), "--", "sh", "-c", "echo ready; exec sleep 100"});
    ASSERT_TRUE(session->WaitFor("ready")) << session->output();
    EXPECT_FALSE(session->Cooked());  // raw while attached
    kill(session->pid(), signal);
    EXPECT_EQ(session->Wait(), 128 + signal) << session->output();
    EXPECT_TRUE(session->Cooked());
  }
  // Cancelling the call killed the commands.
  CommandResult ps =
      Cli({"exec", c.id(), "--", "sh", "-c", "ps -o args | grep -c '^sleep 100$' || true"});
  EXPECT_EQ(ps.out, "0\n");
}

TEST_F(TtyTest, ExecWithoutTtyPipesStdin) {
  v1::Container c = RunSleeper();
  CommandResult piped = Shell(std::string("printf 'hi\\nthere' | ") + QUILT_CLI_PATH + " exec -i " +
                              c.id() + " -- cat");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "hi\nthere");
  // Without -i, the command's stdin is empty.
  CommandResult closed =
      Shell(std::string("echo hi | ") + QUILT_CLI_PATH + " exec " + c.id() + " -- cat");
  EXPECT_EQ(closed.exit_code, 0) << closed.err;
  EXPECT_EQ(closed.out, "");
  // -it needs a terminal.
  CommandResult no_tty =
      Shell(std::string("echo hi | ") + QUILT_CLI_PATH + " exec -it " + c.id() + " -- cat");
  EXPECT_EQ(no_tty.exit_code, 1);
  EXPECT_THAT(no_tty.err, HasSubstr("terminal"));
}

TEST_F(TtyTest, RunItAttachesTheWorkloadsTerminal) {
  auto session = CliOnTerminal({"run", "--rm", "-it", "--name", "shell", "--", "sh"}, 30, 100);
  // The prompt was written before quilt-cli attached: the monitor kept it for the first attach.
  ASSERT_TRUE(session->WaitFor("# ")) << session->output();
  session->Type("tty; stty size; echo $((6*7))\r");
  ASSERT_TRUE(session->WaitFor("/dev/pts/")) << session->output();
  ASSERT_TRUE(session->WaitFor("30 100")) << session->output();
  ASSERT_TRUE(session->WaitFor("42")) << session->output();
  session->Type("exit 5\r");
  EXPECT_EQ(session->Wait(), 5) << session->output();
  // --rm removed it.
  CommandResult ps = Cli({"ps", "-a"});
  EXPECT_THAT(ps.out, ::testing::Not(HasSubstr("shell")));
}

TEST_F(TtyTest, RunItOfAShortWorkloadShowsItsOutputOnce) {
  // The workload may end before quilt-cli attaches (then its output comes from the log) or
  // after (then from the attach): either way it is shown once.
  for (int i = 0; i < 3; ++i) {
    auto session = CliOnTerminal({"run", "--rm", "-it", "--", "echo", "quick-output"});
    EXPECT_EQ(session->Wait(), 0) << session->output();
    const std::string& out = session->output();
    const size_t first = out.find("quick-output");
    ASSERT_NE(first, std::string::npos) << out;
    EXPECT_EQ(out.find("quick-output", first + 1), std::string::npos) << out;
  }
}

TEST_F(TtyTest, CreateItStartThenAttach) {
  CommandResult created = Cli({"create", "-it", "--name", "later", "--", "sh"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  CommandResult started = Cli({"start", "later"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  auto session = CliOnTerminal({"attach", "later"});
  ASSERT_TRUE(session->WaitFor("# ")) << session->output();
  session->Type("echo $((7*6))\r");
  ASSERT_TRUE(session->WaitFor("42")) << session->output();
  session->Type("exit 9\r");
  EXPECT_EQ(session->Wait(), 9) << session->output();
}

TEST_F(TtyTest, RunItCtrlCInterruptsTheWorkload) {
  auto session =
      CliOnTerminal({"run", "--rm", "-it", "--", "sh", "-c", "echo ready; exec sleep 100"});
  ASSERT_TRUE(session->WaitFor("ready")) << session->output();
  session->Type("\x03");
  EXPECT_EQ(session->Wait(), 130) << session->output();
}

TEST_F(TtyTest, RunIPipesStdinAndLogsOutput) {
  CommandResult result = Shell(std::string("printf 'a\\nb\\n' | ") + QUILT_CLI_PATH +
                               " run -i --name piped -- sh -c 'cat; echo done >&2; exit 4'");
  EXPECT_EQ(result.exit_code, 4) << result.err;
  EXPECT_EQ(result.out, "a\nb\n");
  EXPECT_EQ(result.err, "done\n");
  // The log has the output too.
  EXPECT_EQ(Logs("piped", v1::LOG_STREAM_STDOUT), "a\nb\n");
}

TEST_F(TtyTest, ExecStreamWithStdinAndTerminal) {
  v1::Container c = RunSleeper();
  {
    grpc::ClientContext ctx;
    auto stream = containers_->Exec(&ctx);
    v1::ExecRequest start = Start(c.id(), {"cat"});
    start.mutable_start()->set_stdin_open(true);
    ASSERT_TRUE(stream->Write(start));
    ASSERT_TRUE(stream->Write(StdinData("abc")));
    ASSERT_TRUE(stream->Write(StdinData("def")));
    v1::ExecRequest close;
    close.mutable_input()->set_close_stdin(true);
    ASSERT_TRUE(stream->Write(close));
    auto [out, code] = ReadExec(stream);
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(out, "abcdef");
    EXPECT_EQ(code, 0);
  }
  {
    grpc::ClientContext ctx;
    auto stream = containers_->Exec(&ctx);
    v1::ExecRequest start = Start(c.id(), {"sh", "-c", "tty; stty size; echo err >&2"});
    start.mutable_start()->set_tty(true);
    start.mutable_start()->mutable_terminal_size()->set_rows(10);
    start.mutable_start()->mutable_terminal_size()->set_columns(20);
    ASSERT_TRUE(stream->Write(start));
    stream->WritesDone();
    auto [out, code] = ReadExec(stream);
    EXPECT_TRUE(stream->Finish().ok());
    // One stream, through the terminal (which turns \n into \r\n).
    EXPECT_THAT(out, MatchesRegex("/dev/pts/[0-9]+\r\n10 20\r\nerr\r\n"));
    EXPECT_EQ(code, 0);
  }
}

TEST_F(TtyTest, ExecTerminalBelongsToTheExecUser) {
  v1::Container c = RunSleeper();
  grpc::ClientContext ctx;
  auto stream = containers_->Exec(&ctx);
  v1::ExecRequest start = Start(c.id(), {"sh", "-c", "stat -c %u $(tty); id -u"});
  start.mutable_start()->set_tty(true);
  start.mutable_start()->set_user("1234");
  ASSERT_TRUE(stream->Write(start));
  stream->WritesDone();
  auto [out, code] = ReadExec(stream);
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(out, "1234\r\n1234\r\n");
  EXPECT_EQ(code, 0);
}

TEST_F(TtyTest, ExecStreamProtocolErrors) {
  v1::Container c = RunSleeper();
  {
    grpc::ClientContext ctx;
    auto stream = containers_->Exec(&ctx);
    ASSERT_TRUE(stream->Write(StdinData("x")));
    stream->WritesDone();
    ReadExec(stream);
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("start"));
  }
  {
    // Stdin bytes for a command started without stdin_open: refused, and the command killed.
    grpc::ClientContext ctx;
    auto stream = containers_->Exec(&ctx);
    ASSERT_TRUE(stream->Write(Start(c.id(), {"sleep", "100"})));
    stream->Write(StdinData("x"));
    ReadExec(stream);
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("input.stdin_data"));
  }
  {
    grpc::ClientContext ctx;
    auto stream = containers_->Exec(&ctx);
    v1::ExecRequest start = Start(c.id(), {"true"});
    start.mutable_start()->mutable_terminal_size()->set_rows(10);
    ASSERT_TRUE(stream->Write(start));
    stream->WritesDone();
    ReadExec(stream);
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("start.terminal_size"));
  }
}

TEST_F(TtyTest, AttachSurvivesADaemonRestart) {
  v1::ContainerSpec spec = Spec({"sh"});
  spec.set_tty(true);
  spec.set_stdin_open(true);
  v1::Container c = Run(spec);
  KillDaemon();
  StartDaemon();
  grpc::ClientContext ctx;
  auto stream = containers_->Attach(&ctx);
  v1::AttachRequest first;
  first.set_ref(c.id());
  ASSERT_TRUE(stream->Write(first));
  v1::AttachRequest input;
  input.mutable_input()->set_stdin_data("echo $((6*7)); exit 7\n");
  ASSERT_TRUE(stream->Write(input));
  std::string out;
  v1::AttachResponse response;
  while (stream->Read(&response)) out += response.output().data();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_THAT(out, HasSubstr("42"));
  v1::Container done = WaitFor(c.id());
  EXPECT_EQ(done.exit_code(), 7);
  // The terminal's output is in the log too, as stdout.
  EXPECT_THAT(Logs(c.id(), v1::LOG_STREAM_STDOUT), HasSubstr("42"));
}

TEST_F(TtyTest, AttachNeedsAnInteractiveRunningContainer) {
  v1::Container plain = RunSleeper();
  grpc::ClientContext ctx;
  auto stream = containers_->Attach(&ctx);
  v1::AttachRequest first;
  first.set_ref(plain.id());
  stream->Write(first);
  stream->WritesDone();
  v1::AttachResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("tty"));
}

// The same sessions in a container with a user namespace: the exec helper joins it, the
// terminal comes from the namespace's devpts and belongs to the exec user's mapped id.
class TtyUsernsTest : public TtyTest {
 protected:
  void SetUp() override {
    TtyTest::SetUp();
    ASSERT_EQ(StopDaemon(), 0);
    // Far from the userns suite's pool, which may run at the same time.
    StartDaemon({"--userns-range", "4000000:262144"});
  }

  static v1::ContainerSpec UsernsSpec(const std::vector<std::string>& command) {
    v1::ContainerSpec spec = Spec(command);
    spec.set_userns("auto");
    return spec;
  }
};

TEST_F(TtyUsernsTest, ExecTerminalBelongsToTheExecUser) {
  v1::Container c = RunSleeper(UsernsSpec({"sleep", "1000"}));
  for (const std::string user : {"0", "1234"}) {
    grpc::ClientContext ctx;
    auto stream = containers_->Exec(&ctx);
    v1::ExecRequest start = Start(c.id(), {"sh", "-c", "stat -c %u $(tty); id -u"});
    start.mutable_start()->set_tty(true);
    start.mutable_start()->set_user(user);
    ASSERT_TRUE(stream->Write(start));
    stream->WritesDone();
    auto [out, code] = ReadExec(stream);
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_EQ(out, user + "\r\n" + user + "\r\n");
    EXPECT_EQ(code, 0);
  }
}

TEST_F(TtyUsernsTest, ExecItAndStdinPipe) {
  v1::Container c = RunSleeper(UsernsSpec({"sleep", "1000"}));
  auto session = CliOnTerminal({"exec", "-it", c.id(), "--", "sh"}, 30, 100);
  session->Type("stty size; echo $((6*7))\r");
  ASSERT_TRUE(session->WaitFor("30 100")) << session->output();
  ASSERT_TRUE(session->WaitFor("42")) << session->output();
  session->Type("exit 3\r");
  EXPECT_EQ(session->Wait(), 3) << session->output();
  CommandResult piped =
      Shell("echo hello | " + std::string(QUILT_CLI_PATH) + " exec -i " + c.id() + " -- cat");
  EXPECT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, "hello\n");
}

TEST_F(TtyUsernsTest, RunItAttachesTheWorkloadsTerminal) {
  auto session = CliOnTerminal({"run", "--rm", "-it", "--userns", "auto", "--", "sh"}, 30, 100);
  ASSERT_TRUE(session->WaitFor("# ")) << session->output();
  session->Type("tty; stty size; id -u\r");
  ASSERT_TRUE(session->WaitFor("/dev/pts/")) << session->output();
  ASSERT_TRUE(session->WaitFor("30 100")) << session->output();
  session->Type("exit 5\r");
  EXPECT_EQ(session->Wait(), 5) << session->output();
}

TEST_F(TtyUsernsTest, AttachSurvivesADaemonRestart) {
  v1::ContainerSpec spec = UsernsSpec({"sh"});
  spec.set_tty(true);
  spec.set_stdin_open(true);
  v1::Container c = Run(spec);
  KillDaemon();
  StartDaemon({"--userns-range", "4000000:262144"});
  grpc::ClientContext ctx;
  auto stream = containers_->Attach(&ctx);
  v1::AttachRequest first;
  first.set_ref(c.id());
  ASSERT_TRUE(stream->Write(first));
  v1::AttachRequest input;
  input.mutable_input()->set_stdin_data("echo $((6*7)); exit 7\n");
  ASSERT_TRUE(stream->Write(input));
  std::string out;
  v1::AttachResponse response;
  while (stream->Read(&response)) out += response.output().data();
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_THAT(out, HasSubstr("42"));
  EXPECT_EQ(WaitFor(c.id()).exit_code(), 7);
}

}  // namespace
}  // namespace quilt::testing
