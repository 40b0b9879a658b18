// quilt-cli against a real daemon, as a user would type it.
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "nlohmann/json.hpp"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

class CliTest : public QuiltdTest {};

TEST_F(CliTest, RunEchoHello) {
  CommandResult r = Cli({"run", "--rm", "--", "echo", "hello"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
}

TEST_F(CliTest, RunShowsSetupOutputBeforeTheWorkload) {
  CommandResult r = Cli({"run", "--rm", "--setup", "echo preparing", "--", "echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "preparing\nhi\n");
}

TEST_F(CliTest, RunPassesArgvVerbatimAndExitCode) {
  CommandResult r = Cli(
      {"run", "--", "sh", "-c", "printf '%s|' \"$@\"; exit 42", "sh", "a b", "'q'", "$HOME", ""});
  EXPECT_EQ(r.exit_code, 42) << r.err;
  EXPECT_EQ(r.out, "a b|'q'|$HOME||");
}

TEST_F(CliTest, RunKeepsStreamsApart) {
  CommandResult r = Cli({"run", "--", "sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(CliTest, DetachedLifecycle) {
  CommandResult run =
      Cli({"run", "-d", "--name", "web", "--", "sh", "-c", "echo started; sleep 1000"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string id(absl::StripAsciiWhitespace(run.out));
  EXPECT_EQ(id.size(), 64u);
  CommandResult ps = Cli({"ps"});
  EXPECT_THAT(ps.out, HasSubstr("web"));
  EXPECT_THAT(ps.out, HasSubstr(id.substr(0, 12)));
  CommandResult logs = Cli({"logs", "web"});
  EXPECT_EQ(logs.out, "started\n");
  CommandResult status = Cli({"status", "web"});
  EXPECT_THAT(status.out, HasSubstr("running"));
  EXPECT_EQ(Cli({"stop", "-t", "1", "web"}).exit_code, 0);
  CommandResult wait = Cli({"wait", "web"});
  EXPECT_EQ(wait.exit_code, 0);
  EXPECT_EQ(wait.out, "143\n") << "sh dies of the SIGTERM that stop forwards";
  EXPECT_EQ(Cli({"rm", "web"}).exit_code, 0);
  CommandResult gone = Cli({"status", "web"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_THAT(gone.err, HasSubstr("no such container"));
}

TEST_F(CliTest, LimitsFromFlags) {
  CommandResult r = Cli({"run", "--memory", "32m", "--", "sh", "-c",
                         "x=0123456789abcdef; while true; do x=$x$x; done"});
  EXPECT_EQ(r.exit_code, 137) << r.err;
  CommandResult ps = Cli({"ps", "-a", "--json"});
  EXPECT_THAT(ps.out, HasSubstr("OOMKilled"));
}

TEST_F(CliTest, FailingSetupExits125WithTheReason) {
  CommandResult r = Cli({"run", "--setup", "exit 3", "--", "echo", "never"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_THAT(r.err, HasSubstr("setup"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("never")));
}

TEST_F(CliTest, ImageImportListRemove) {
  const std::string rootfs = dir_ + "/img";
  ASSERT_EQ(RunCommand({"/bin/sh", "-c",
                        "mkdir -p " + rootfs + "/bin && cp /bin/busybox " + rootfs +
                            "/bin/ && ln -s busybox " + rootfs + "/bin/sh && ln -s busybox " +
                            rootfs + "/bin/cat && echo custom > " + rootfs + "/marker && tar -C " +
                            rootfs + " -czf " + dir_ + "/img.tar.gz ."})
                .exit_code,
            0);
  CommandResult imported = Cli({"image", "import", dir_ + "/img.tar.gz", "--name", "mini"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  CommandResult ls = Cli({"image", "ls"});
  EXPECT_THAT(ls.out, HasSubstr("mini"));
  CommandResult r = Cli({"run", "--rm", "--image", "mini", "--", "cat", "/marker"});
  EXPECT_EQ(r.out, "custom\n") << r.err;
  EXPECT_EQ(Cli({"image", "rm", "mini"}).exit_code, 0);
  EXPECT_THAT(Cli({"image", "ls"}).out, ::testing::Not(HasSubstr("mini")));
}

TEST_F(CliTest, PruneRemovesEveryContainerThatIsNotRunning) {
  CommandResult done = Cli({"run", "-d", "--name", "done", "--", "true"});
  ASSERT_EQ(done.exit_code, 0) << done.err;
  CommandResult later = Cli({"create", "--name", "later", "--", "true"});
  ASSERT_EQ(later.exit_code, 0) << later.err;
  CommandResult busy = Cli({"run", "-d", "--name", "busy", "--", "sleep", "1000"});
  ASSERT_EQ(busy.exit_code, 0) << busy.err;
  ASSERT_EQ(Cli({"wait", "done"}).exit_code, 0);

  CommandResult pruned = Cli({"prune"});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.err;
  EXPECT_THAT(pruned.out, HasSubstr(done.out));
  EXPECT_THAT(pruned.out, HasSubstr(later.out));
  EXPECT_THAT(pruned.out, ::testing::Not(HasSubstr(busy.out)));
  const std::string left = Cli({"ps", "-a", "-q"}).out;
  EXPECT_EQ(left, busy.out);

  CommandResult again = Cli({"--json", "prune"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out), nlohmann::json::array());
}

TEST_F(CliTest, UnknownContainerAndNoDaemon) {
  CommandResult r = Cli({"logs", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no such container"));
  CommandResult down = RunCommand({QUILT_CLI_PATH, "--socket", dir_ + "/absent.sock", "ps"});
  EXPECT_NE(down.exit_code, 0);
  EXPECT_THAT(down.err, HasSubstr("quiltd"));
}

}  // namespace
}  // namespace quilt::testing
