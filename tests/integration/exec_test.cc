// Exec runs commands inside a running container: its filesystem, namespaces, cgroup and
// hardening; output streamed apart, exit codes, timeouts and concurrency. Execs go through
// the container's exec server (quiltd/monitor/exec_server.h): started once, in the
// container's cgroup, unreachable from the container, surviving quiltd's restarts.
#include <dirent.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  while (dirent* e = proc != nullptr ? readdir(proc) : nullptr) {
    if (pid_t pid = atoi(e->d_name); pid > 0) pids.push_back(pid);
  }
  if (proc != nullptr) closedir(proc);
  return pids;
}

// Host pids of the processes named `comm` whose parent is `parent`.
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& comm) {
  std::vector<pid_t> found;
  for (pid_t pid : AllPids()) {
    // "pid (comm) state ppid ..."
    const std::string stat = ReadText(absl::StrCat("/proc/", pid, "/stat"));
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::vector<std::string> rest = absl::StrSplit(stat.substr(close + 2), ' ');
    if (stat.substr(open + 1, close - open - 1) == comm && rest.size() > 1 &&
        atoi(rest[1].c_str()) == parent) {
      found.push_back(pid);
    }
  }
  return found;
}

// Host pids of the exec servers of the container whose init is `init_pid`: its children
// named quilt-exec (the server's forks, one waiting for the next request and one per
// running exec, are the server's children).
std::vector<pid_t> ExecServers(pid_t init_pid) { return ChildrenNamed(init_pid, "quilt-exec"); }

// The host pid of the process whose argv is exactly `argv`, or 0.
pid_t FindProcess(const std::vector<std::string>& argv) {
  const std::string wanted = absl::StrJoin(argv, std::string(1, '\0')) + '\0';
  for (pid_t pid : AllPids()) {
    if (ReadText(absl::StrCat("/proc/", pid, "/cmdline")) == wanted) return pid;
  }
  return 0;
}

// Watches directories for writes to cgroup.procs or tasks: attaches of a process to a cgroup.
class CgroupAttachWatch {
 public:
  explicit CgroupAttachWatch(const std::vector<std::string>& dirs)
      : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    for (const std::string& dir : dirs) {
      EXPECT_GE(inotify_add_watch(fd_, dir.c_str(), IN_MODIFY), 0) << dir;
    }
  }
  ~CgroupAttachWatch() { close(fd_); }

  // The attaches seen since the last call, as "<watch> <file>".
  std::vector<std::string> Attaches() {
    std::vector<std::string> seen;
    alignas(inotify_event) char buffer[4096];
    ssize_t n;
    while ((n = read(fd_, buffer, sizeof(buffer))) > 0) {
      for (char* at = buffer; at < buffer + n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(at);
        const std::string name = event->len > 0 ? event->name : "";
        if (name == "cgroup.procs" || name == "tasks") {
          seen.push_back(absl::StrCat(event->wd, " ", name));
        }
        at += sizeof(inotify_event) + event->len;
      }
    }
    return seen;
  }

 private:
  int fd_;
};

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

  // The container's cgroup directories, in every hierarchy.
  std::vector<std::string> CgroupDirsOf(const std::string& id) const {
    std::vector<std::string> dirs;
    for (const std::string& dir : ContainerCgroups()) {
      if (absl::StrContains(dir, id)) dirs.push_back(dir);
    }
    return dirs;
  }

  std::string BundleOf(const std::string& id) const { return state_dir_ + "/containers/" + id; }
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

// execvp's rules, with the container's PATH: a directory without the file, or a PATH entry
// that is not a directory, is passed over; a file found but not executable is passed over
// too and reported (126) only when nothing later runs.
TEST_F(ExecTest, SearchesTheContainersPath) {
  v1::Container c = RunSleeper();
  ExecOutcome made = Exec(c.id(), {"sh", "-c",
                                   "mkdir -p /tmp/a /tmp/b && echo 'echo a' > /tmp/a/tool && "
                                   "printf '#!/bin/sh\\necho b\\n' > /tmp/b/tool && "
                                   "chmod 0755 /tmp/b/tool"});
  ASSERT_EQ(made.exit.exit_code(), 0) << made.err;
  const auto path = [](const std::string& value) {
    return [value](v1::ExecStart& start) { start.add_env("PATH=" + value); };
  };
  ExecOutcome found = Exec(c.id(), {"tool"}, path("/nowhere:/etc/passwd:/tmp/a:/tmp/b"));
  EXPECT_EQ(found.exit.exit_code(), 0) << found.err;
  EXPECT_EQ(found.out, "b\n");
  ExecOutcome denied = Exec(c.id(), {"tool"}, path("/nowhere:/tmp/a"));
  EXPECT_EQ(denied.exit.exit_code(), 126);
  EXPECT_THAT(denied.err, HasSubstr("tool"));
  ExecOutcome missing = Exec(c.id(), {"tool"}, path("/nowhere:/etc/passwd"));
  EXPECT_EQ(missing.exit.exit_code(), 127);
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
  // (init, the workload's sh and sleep, the exec's sh and ps), besides the exec server's.
  EXPECT_THAT(result.out, HasSubstr("sleep"));
  const auto others = std::count_if(lines.begin(), lines.end(), [](const std::string& line) {
    return !absl::StrContains(line, "quilt-exec");
  });
  EXPECT_LE(others, 2 + 1 + 6) << result.out;
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

TEST_F(ExecTest, OneExecServerForksEveryCommand) {
  v1::Container c = RunSleeper();
  // Before any exec there is none: a container never exec'd into costs nothing more.
  EXPECT_THAT(ExecServers(c.pid()), IsEmpty());
  ExecOutcome first = Exec(c.id(), {"sh", "-c", "cat /proc/$PPID/comm"});
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  // The command's parent is in the container's pid namespace (a helper outside it would show
  // as pid 0): the server's fork for this exec.
  EXPECT_EQ(first.out, "quilt-exec\n");
  const std::vector<pid_t> servers = ExecServers(c.pid());
  ASSERT_EQ(servers.size(), 1u);
  for (int i = 0; i < 3; ++i) {
    ExecOutcome again = Exec(c.id(), {"true"});
    ASSERT_TRUE(again.status.ok()) << again.status.error_message();
    EXPECT_EQ(again.exit.exit_code(), 0);
  }
  EXPECT_EQ(ExecServers(c.pid()), servers);
  // Not dumpable: its binary and fds (the listening socket) are closed to the container's
  // root, as the init's are.
  ExecOutcome peek =
      Exec(c.id(), {"sh", "-c",
                    "for p in $(ps -o pid,comm | awk '$2 == \"quilt-exec\" {print $1}'); do "
                    "for f in /proc/$p/exe /proc/$p/fd/*; do readlink $f || echo closed; done; "
                    "done"});
  ASSERT_TRUE(peek.status.ok()) << peek.status.error_message();
  EXPECT_THAT(peek.out, HasSubstr("closed"));
  for (absl::string_view line : absl::StrSplit(peek.out, '\n', absl::SkipEmpty())) {
    EXPECT_EQ(line, "closed");
  }
}

TEST_F(ExecTest, OnlyTheFirstExecAttachesToTheCgroup) {
  v1::Container c = RunSleeper();
  const std::vector<std::string> dirs = CgroupDirsOf(c.id());
  ASSERT_THAT(dirs, Not(IsEmpty()));
  CgroupAttachWatch watch(dirs);
  // The first exec starts the server, which joins the container's cgroups: the watch sees
  // those writes.
  ASSERT_TRUE(Exec(c.id(), {"true"}).status.ok());
  EXPECT_THAT(watch.Attaches(), Not(IsEmpty()));
  // Later execs are forks of the server: no write to cgroup.procs at all (on v1 such a write
  // waits for an RCU grace period after an idle gap).
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ExecOutcome next = Exec(c.id(), {"true"});
    ASSERT_TRUE(next.status.ok()) << next.status.error_message();
  }
  EXPECT_THAT(watch.Attaches(), IsEmpty());
}

TEST_F(ExecTest, CommandIsInTheContainersCgroupsAndNamespaces) {
  v1::Container c = RunSleeper();
  ASSERT_TRUE(Exec(c.id(), {"true"}).status.ok());  // the server runs from here on
  ExecOutcome outcome;
  std::thread exec([&] { outcome = Exec(c.id(), {"sleep", "3001"}); });
  pid_t pid = 0;
  for (int i = 0; i < 200 && pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    pid = FindProcess({"sleep", "3001"});
  }
  ASSERT_NE(pid, 0) << "the exec'd sleep never appeared";
  int compared = 0;
  for (const char* file : {"pids.max", "memory.max", "memory.limit_in_bytes", "cpu.max",
                           "cpu.shares", "cgroup.procs"}) {
    const std::string workload = CgroupFileOf(c.pid(), file);
    if (workload.empty()) continue;
    EXPECT_EQ(CgroupFileOf(pid, file), workload) << file;
    ++compared;
  }
  EXPECT_GE(compared, 2);
  for (const char* ns : {"pid", "mnt", "net", "uts", "ipc", "cgroup"}) {
    char ours[64] = {}, theirs[64] = {};
    ASSERT_GT(readlink(absl::StrCat("/proc/", pid, "/ns/", ns).c_str(), ours, sizeof(ours)), 0);
    ASSERT_GT(readlink(absl::StrCat("/proc/", c.pid(), "/ns/", ns).c_str(), theirs, sizeof(theirs)),
              0);
    EXPECT_STREQ(ours, theirs) << ns;
  }
  kill(pid, SIGKILL);
  exec.join();
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.exit.signal(), SIGKILL);
}

TEST_F(ExecTest, ExecServerSurvivesADaemonRestart) {
  v1::Container c = RunSleeper();
  ASSERT_TRUE(Exec(c.id(), {"true"}).status.ok());
  const std::vector<pid_t> servers = ExecServers(c.pid());
  ASSERT_EQ(servers.size(), 1u);
  KillDaemon();
  StartDaemon();
  ExecOutcome after = Exec(c.id(), {"cat", "/tmp/marker"});
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.out, "from-workload\n");
  // The same server: it never depended on quiltd.
  EXPECT_EQ(ExecServers(c.pid()), servers);
}

TEST_F(ExecTest, KilledExecServerIsReplaced) {
  v1::Container c = RunSleeper();
  ASSERT_TRUE(Exec(c.id(), {"true"}).status.ok());
  const std::vector<pid_t> servers = ExecServers(c.pid());
  ASSERT_EQ(servers.size(), 1u);
  ASSERT_EQ(kill(servers[0], SIGKILL), 0);
  // The init reaps it.
  for (int i = 0; i < 200 && !ExecServers(c.pid()).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_THAT(ExecServers(c.pid()), IsEmpty());
  ExecOutcome after = Exec(c.id(), {"echo", "back"});
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.out, "back\n");
  const std::vector<pid_t> replaced = ExecServers(c.pid());
  ASSERT_EQ(replaced.size(), 1u);
  EXPECT_NE(replaced, servers);
}

TEST_F(ExecTest, StoppedExecServerIsBypassed) {
  v1::Container c = RunSleeper();
  ASSERT_TRUE(Exec(c.id(), {"true"}).status.ok());
  const std::vector<pid_t> servers = ExecServers(c.pid());
  ASSERT_EQ(servers.size(), 1u);
  // The container's root could do this: the server and the processes it keeps ready for the
  // next request are in its pid namespace.
  std::vector<pid_t> stopped = {servers[0]};
  for (size_t i = 0; i < stopped.size(); ++i) {
    for (pid_t child : ChildrenNamed(stopped[i], "quilt-exec")) stopped.push_back(child);
  }
  ASSERT_GE(stopped.size(), 2u);
  for (pid_t pid : stopped) kill(pid, SIGSTOP);
  const auto start = std::chrono::steady_clock::now();
  ExecOutcome result = Exec(c.id(), {"sh", "-c", "echo $PPID; touch /tmp/ran-$PPID"});
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.out, "0\n");  // a helper's command
  EXPECT_THAT(ReadText(dir_ + "/quiltd.log"), HasSubstr("did not answer"));
  // Let go, it finds the withdrawn request and runs nothing of it.
  for (pid_t pid : stopped) kill(pid, SIGCONT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ExecOutcome after = Exec(c.id(), {"sh", "-c", "cat /proc/$PPID/comm; ls /tmp/ | grep ran-"});
  ASSERT_TRUE(after.status.ok()) << after.status.error_message();
  EXPECT_EQ(after.out, "quilt-exec\nran-0\n");
}

TEST_F(ExecTest, FallsBackToAHelperWhenNoServerCanStart) {
  v1::Container c = RunSleeper();
  // A directory where the socket goes: the server cannot bind it.
  ASSERT_EQ(mkdir((BundleOf(c.id()) + "/exec.sock").c_str(), 0700), 0);
  ExecOutcome result = Exec(c.id(), {"sh", "-c", "echo $PPID; cat /tmp/marker"});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  // A helper's command: its parent is outside the container's pid namespace.
  EXPECT_EQ(result.out, "0\nfrom-workload\n");
  EXPECT_THAT(ExecServers(c.pid()), IsEmpty());
  EXPECT_THAT(ReadText(dir_ + "/quiltd.log"), HasSubstr("running a one-shot helper"));
}

TEST_F(ExecTest, ExecServerRefusesTheContainer) {
  // The probe, and (only to give the container a path to the socket at all) the containers
  // directory bound in.
  const std::string probe_dir = dir_ + "/probe";
  ASSERT_EQ(mkdir(probe_dir.c_str(), 0755), 0);
  std::filesystem::copy_file(ESCAPE_PROBE_PATH, probe_dir + "/escape_probe");
  v1::ContainerSpec spec = Spec({});
  v1::Mount* probe = spec.add_mounts();
  probe->set_source(probe_dir);
  probe->set_destination("/probe");
  probe->set_read_only(true);
  v1::Mount* bundles = spec.add_mounts();
  bundles->set_source(state_dir_ + "/containers");
  bundles->set_destination("/quilt-containers");
  v1::Container c = RunSleeper(spec);
  ASSERT_TRUE(Exec(c.id(), {"true"}).status.ok());
  ASSERT_EQ(ExecServers(c.pid()).size(), 1u);
  ExecOutcome probed = Exec(
      c.id(), {"/probe/escape_probe", "exec-server", "/quilt-containers/" + c.id() + "/exec.sock"});
  ASSERT_TRUE(probed.status.ok()) << probed.status.error_message();
  EXPECT_EQ(probed.out, "exec-server: refused\n") << probed.err;
  // Without that mount the container has no path to it at all.
  v1::Container plain = RunSleeper();
  ASSERT_TRUE(Exec(plain.id(), {"true"}).status.ok());
  ExecOutcome search = Exec(plain.id(), {"sh", "-c",
                                         "find / -path /proc -prune -o -path /sys -prune -o "
                                         "-type s -print"});
  ASSERT_TRUE(search.status.ok()) << search.status.error_message();
  EXPECT_EQ(search.out, "");
}

TEST_F(ExecTest, ExecGetsTheWorkloadsSyscallFilter) {
  const std::string probe_dir = dir_ + "/probe";
  ASSERT_EQ(mkdir(probe_dir.c_str(), 0755), 0);
  std::filesystem::copy_file(ESCAPE_PROBE_PATH, probe_dir + "/escape_probe");
  v1::ContainerSpec spec =
      Spec({"sh", "-c", "/probe/escape_probe syscalls; echo ready; sleep 1000"});
  v1::Mount* probe = spec.add_mounts();
  probe->set_source(probe_dir);
  probe->set_destination("/probe");
  probe->set_read_only(true);
  v1::Container c = Run(spec);
  ASSERT_TRUE(WaitForLog(c.id(), "ready"));
  const std::string logged = Logs(c.id());
  absl::string_view workload = logged;
  ASSERT_TRUE(absl::ConsumeSuffix(&workload, "ready\n")) << logged;
  EXPECT_THAT(workload, HasSubstr("mount: Operation not permitted"));
  // Twice: the first exec starts the server, the second is one of its forks.
  for (int i = 0; i < 2; ++i) {
    ExecOutcome exec = Exec(c.id(), {"/probe/escape_probe", "syscalls"});
    ASSERT_TRUE(exec.status.ok()) << exec.status.error_message();
    EXPECT_EQ(exec.out, workload);
  }
}

}  // namespace
}  // namespace quilt::testing
