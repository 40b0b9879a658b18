// Runs the built quilt-cli binary against FakeQuiltd on a temporary Unix socket.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "quilt-cli/fake_quiltd.h"

extern char** environ;

namespace quilt::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A running quilt-cli with its stdout and stderr captured.
class CliProcess {
 public:
  explicit CliProcess(const std::vector<std::string>& args) {
    int out[2];
    int err[2];
    EXPECT_EQ(pipe2(out, O_CLOEXEC), 0);
    EXPECT_EQ(pipe2(err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    std::vector<std::string> argv_strings = {QUILT_CLI_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, QUILT_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }

  void Signal(int signal) { kill(pid_, signal); }

  // Reads both pipes to EOF, then reaps the process.
  Result Finish() {
    Result result;
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    while (open_fds > 0 && poll(fds, 2, 10'000) > 0) {
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buffer[4096];
        ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        if (n > 0) {
          sinks[i]->append(buffer, static_cast<size_t>(n));
        } else {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    // A quilt-cli still holding its pipes after the poll timeout is hung: kill it.
    if (open_fds > 0) kill(pid_, SIGKILL);
    for (pollfd& fd : fds) {
      if (fd.fd >= 0) close(fd.fd);
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
  }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
};

class CliEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/quilt-cli-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    socket_ = dir_ + "/quilt.sock";
    server_ = std::make_unique<FakeQuiltd>(socket_);
  }

  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  Result Cli(std::vector<std::string> args) {
    args.insert(args.begin(), {"--socket", socket_});
    return CliProcess(args).Finish();
  }

  std::string dir_;
  std::string socket_;
  std::unique_ptr<FakeQuiltd> server_;
};

TEST_F(CliEndToEndTest, CreatePassesArgvVerbatimAndPrintsId) {
  Result result =
      Cli({"create", "--name", "web", "--", "sh", "-c", "echo \"a  b\" 'c'", "", "--json", "--"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "c01" + std::string(61, 'a') + "\n");
  quilt::v1::CreateRequest request = server_->last_create();
  EXPECT_FALSE(request.start());
  EXPECT_EQ(request.spec().name(), "web");
  EXPECT_THAT(request.spec().command(),
              ElementsAre("sh", "-c", "echo \"a  b\" 'c'", "", "--json", "--"));
}

TEST_F(CliEndToEndTest, CreateFlagsMapToSpecFields) {
  setenv("QUILT_E2E_INHERITED", "from-cli", 1);
  Result result = Cli({"create",
                       "--memory",
                       "64m",
                       "--cpus",
                       "0.5",
                       "--pids",
                       "32",
                       "-v",
                       "rel/dir:/data:ro",
                       "-v",
                       "/abs:/abs",
                       "-e",
                       "A=1",
                       "-e",
                       "QUILT_E2E_INHERITED",
                       "-e",
                       "QUILT_E2E_UNSET_VAR",
                       "--network",
                       "host",
                       "--read-only",
                       "-w",
                       "/srv",
                       "-u",
                       "nobody",
                       "--hostname",
                       "box",
                       "--setup",
                       "apk add x",
                       "--image",
                       "alpine",
                       "--",
                       "true"});
  unsetenv("QUILT_E2E_INHERITED");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const quilt::v1::ContainerSpec spec = server_->last_create().spec();
  EXPECT_EQ(spec.resources().memory_bytes(), 67108864);
  EXPECT_DOUBLE_EQ(spec.resources().cpus(), 0.5);
  EXPECT_EQ(spec.resources().pids_max(), 32);
  ASSERT_EQ(spec.mounts_size(), 2);
  EXPECT_EQ(spec.mounts(0).source(), std::filesystem::current_path().string() + "/rel/dir");
  EXPECT_EQ(spec.mounts(0).destination(), "/data");
  EXPECT_TRUE(spec.mounts(0).read_only());
  EXPECT_FALSE(spec.mounts(1).read_only());
  EXPECT_THAT(spec.env(), ElementsAre("A=1", "QUILT_E2E_INHERITED=from-cli"));
  EXPECT_EQ(spec.network(), quilt::v1::NETWORK_MODE_HOST);
  EXPECT_TRUE(spec.read_only_rootfs());
  EXPECT_EQ(spec.working_dir(), "/srv");
  EXPECT_EQ(spec.user(), "nobody");
  EXPECT_EQ(spec.hostname(), "box");
  EXPECT_THAT(spec.setup(), ElementsAre("apk add x"));
  EXPECT_EQ(spec.image(), "alpine");
}

TEST_F(CliEndToEndTest, CreateRejectsBadSizeWithoutCallingServer) {
  Result result = Cli({"create", "--memory", "64q", "--", "true"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("quilt-cli: invalid size \"64q\""));
  EXPECT_FALSE(server_->last_create().has_spec());
}

TEST_F(CliEndToEndTest, RunStreamsOutputToTheRightFdsAndExitsWithTheCode) {
  Result result = Cli({"run", "--rm", "--", "exit", "7"});
  EXPECT_EQ(result.exit_code, 7) << result.err;
  EXPECT_EQ(result.out, kStdoutBytes);
  EXPECT_EQ(result.err, kStderrBytes);
  EXPECT_TRUE(server_->last_create().start());
  EXPECT_THAT(server_->removed(), ElementsAre("c01" + std::string(61, 'a') + " force"));
}

TEST_F(CliEndToEndTest, RunDetachedPrintsJsonId) {
  Result result = Cli({"run", "-d", "--json", "--", "exit", "0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json json = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << result.out;
  EXPECT_EQ(json["id"], "c01" + std::string(61, 'a'));
}

TEST_F(CliEndToEndTest, RunSetupFailureExits125WithMessage) {
  Result result = Cli({"run", "--", "fail-setup"});
  EXPECT_EQ(result.exit_code, 125);
  EXPECT_THAT(result.err, HasSubstr("setup: boom\n"));
  EXPECT_THAT(result.err, HasSubstr("quilt-cli: container c01aaaaaaaaa failed: SetupFailed: "
                                    "setup command 1 (false) exited with status 1"));
  EXPECT_EQ(result.out, "");
}

TEST_F(CliEndToEndTest, RunInterruptedStopsAndRemoves) {
  CliProcess process({"--socket", socket_, "run", "--rm", "--", "hang"});
  bool following = server_->WaitForFollower(10);
  EXPECT_TRUE(following);
  process.Signal(SIGINT);
  Result result = process.Finish();
  EXPECT_EQ(result.exit_code, 130) << result.err;
  std::string id = "c01" + std::string(61, 'a');
  EXPECT_THAT(server_->stopped(), ElementsAre(id + " signal=2 timeout=-1"));
  EXPECT_THAT(server_->removed(), ElementsAre(id + " force"));
}

TEST_F(CliEndToEndTest, UnknownRefSaysNoSuchContainer) {
  Result result = Cli({"status", "abc"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "quilt-cli: no such container: abc\n");
  EXPECT_EQ(result.out, "");
}

TEST_F(CliEndToEndTest, RmReportsEachFailure) {
  ASSERT_EQ(Cli({"create", "--name", "one", "--", "true"}).exit_code, 0);
  Result result = Cli({"rm", "nope", "one", "gone"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "one\n");
  EXPECT_EQ(result.err, "quilt-cli: no such container: nope\nquilt-cli: no such container: gone\n");
}

TEST_F(CliEndToEndTest, StatusJsonParsesAndTextHasKeys) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "web", "--", "exit", "3"}).exit_code, 0);
  Result json_result = Cli({"inspect", "--json", "web"});
  ASSERT_EQ(json_result.exit_code, 0) << json_result.err;
  nlohmann::json json = nlohmann::json::parse(json_result.out, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << json_result.out;
  EXPECT_EQ(json["name"], "web");
  EXPECT_EQ(json["state"], "CONTAINER_STATE_RUNNING");
  EXPECT_EQ(json["spec"]["command"], nlohmann::json({"exit", "3"}));

  Result text = Cli({"status", "web"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("name: web\n"));
  EXPECT_THAT(text.out, HasSubstr("state: running\n"));
  EXPECT_THAT(text.out, HasSubstr("command: exit 3\n"));
}

TEST_F(CliEndToEndTest, PsTableQuietAndJson) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "web", "--", "sleep", "1"}).exit_code, 0);
  Result table = Cli({"ps"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("ID             NAME   IMAGE          STATE     STATUS"));
  EXPECT_THAT(table.out, HasSubstr("c01aaaaaaaaa   web    bbbbbbbbbbbb   running   Up "));
  EXPECT_THAT(table.out, HasSubstr("sleep 1\n"));
  Result quiet = Cli({"ps", "-q"});
  EXPECT_EQ(quiet.out, "c01" + std::string(61, 'a') + "\n");
  Result json = Cli({"ps", "-a", "--json"});
  nlohmann::json array = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(array.is_array()) << json.out;
  ASSERT_EQ(array.size(), 1u);
  EXPECT_EQ(array[0]["name"], "web");
}

TEST_F(CliEndToEndTest, LogsWaitStopKill) {
  ASSERT_EQ(Cli({"run", "-d", "--name", "w", "--", "exit", "5"}).exit_code, 0);
  Result logs = Cli({"logs", "w"});
  EXPECT_EQ(logs.out, kStdoutBytes);
  EXPECT_EQ(logs.err, kStderrBytes);
  Result stamped = Cli({"logs", "-t", "w"});
  EXPECT_THAT(stamped.out,
              testing::MatchesRegex("[0-9-]+T[0-9:.]+Z out line 1\n[0-9-]+T[0-9:.]+Z out .*2\n"));
  Result killed = Cli({"kill", "-s", "SIGHUP", "w"});
  EXPECT_EQ(killed.exit_code, 0) << killed.err;
  Result waited = Cli({"wait", "w"});
  EXPECT_EQ(waited.exit_code, 0);
  EXPECT_EQ(waited.out, "5\n");
  Result stopped = Cli({"stop", "-t", "0", "-s", "KILL", "w"});
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_THAT(server_->stopped(), ElementsAre("w kill=1", "w signal=9 timeout=0"));
  Result bad = Cli({"kill", "-s", "NOPE", "w"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("invalid signal \"NOPE\""));
}

TEST_F(CliEndToEndTest, ImageCommands) {
  Result imported = Cli({"image", "import", "rootfs.tar", "--name", "mine"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(imported.out, "sha256:" + std::string(64, 'd') + "\n");
  // stderr is a pipe: no progress line, no summary.
  EXPECT_EQ(imported.err, "");
  EXPECT_THAT(server_->imported(),
              ElementsAre(std::filesystem::current_path().string() + "/rootfs.tar"));
  Result list = Cli({"image", "ls"});
  EXPECT_EQ(list.out,
            "DIGEST                NAMES            SIZE     CREATED\n"
            "sha256:0123456789ab   default,alpine   67.1MB   2 hours ago\n");
  Result json = Cli({"image", "ls", "--json"});
  nlohmann::json array = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(array.is_array()) << json.out;
  EXPECT_EQ(array[0]["size_bytes"], "67100000");  // int64 is a string in proto JSON
  Result removed = Cli({"image", "rm", "nothing"});
  EXPECT_EQ(removed.exit_code, 1);
  EXPECT_EQ(removed.err, "quilt-cli: no such image: nothing\n");
}

TEST_F(CliEndToEndTest, ImportFallsBackToUnaryAndKeepsStreamErrors) {
  // A daemon without ImportWithProgress: the same import through Import.
  Result old = Cli({"image", "import", "/x/old.tar"});
  ASSERT_EQ(old.exit_code, 0) << old.err;
  EXPECT_EQ(old.out, "sha256:" + std::string(64, 'd') + "\n");
  EXPECT_EQ(old.err, "");
  EXPECT_THAT(server_->imported(), ElementsAre("/x/old.tar"));
  // A failure after some progress is reported as is, not retried.
  Result bad = Cli({"image", "import", "/x/bad.tar"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.out, "");
  EXPECT_EQ(bad.err, "quilt-cli: import /x/bad.tar: not an archive\n");
  EXPECT_THAT(server_->imported(), ElementsAre("/x/old.tar"));
  // --json prints the ImportResponse as before.
  Result json = Cli({"--json", "image", "import", "/x/new.tar"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.err, "");
  nlohmann::json object = nlohmann::json::parse(json.out, nullptr, false);
  ASSERT_TRUE(object.is_object()) << json.out;
  EXPECT_EQ(object["unpacked"], true);
  EXPECT_EQ(object["image"]["digest"], "sha256:" + std::string(64, 'd'));
}

TEST_F(CliEndToEndTest, VersionShowsBothSides) {
  Result result = Cli({"version"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Client:\n  version: 0.1.0\n"));
  EXPECT_THAT(result.out, HasSubstr("  version: 9.9.9\n  cgroup mode: hybrid\n"
                                    "  kernel: 6.1.0-test\n"));
}

TEST_F(CliEndToEndTest, UnreachableSocketExplainsItself) {
  std::string missing = dir_ + "/missing.sock";
  Result result = CliProcess({"--socket", missing, "version"}).Finish();
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("Client:\n  version: 0.1.0\n"));
  EXPECT_EQ(result.err, "quilt-cli: cannot connect to quiltd at " + missing +
                            ": No such file or directory (is quiltd running?)\n");
  Result ps = CliProcess({"ps", "--socket", missing}).Finish();
  EXPECT_EQ(ps.exit_code, 1);
  EXPECT_THAT(ps.err, HasSubstr("cannot connect to quiltd at " + missing));
}

}  // namespace
}  // namespace quilt::cli
