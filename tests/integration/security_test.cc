// Attacks from inside a default container, each expected to fail the way the sandbox makes
// it fail: capabilities, no_new_privs, the seccomp filter, masked and read-only kernel paths,
// the init's /proc entries, raw sockets, modules, ptrace, the host's hostname, the pids limit.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kDefaultCaps[] = "00000000800405fb";

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout and stderr of the workload, setup output excluded
};

class SecurityTest : public QuiltdTest {
 protected:
  void SetUp() override {
    QuiltdTest::SetUp();
    probe_dir_ = dir_ + "/probe";
    ASSERT_EQ(mkdir(probe_dir_.c_str(), 0755), 0);
    std::filesystem::copy_file(ESCAPE_PROBE_PATH, probe_dir_ + "/escape_probe");
  }

  // Runs `spec` to completion with the probe directory bound read-only at /probe.
  Outcome RunToEnd(v1::ContainerSpec spec) {
    v1::Mount* probe = spec.add_mounts();
    probe->set_source(probe_dir_);
    probe->set_destination("/probe");
    probe->set_read_only(true);
    v1::Container c = Run(spec);
    v1::Container done = WaitFor(c.id());
    EXPECT_EQ(done.state(), v1::CONTAINER_STATE_EXITED) << done.message();
    return {done.exit_code(), Logs(c.id())};
  }

  Outcome Sh(const std::string& script) { return RunToEnd(Spec({"sh", "-c", script})); }

  // The value of `key` ("CapEff") in the output of `grep ... /proc/self/status`.
  static std::string StatusField(const std::string& out, const std::string& key) {
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::ConsumePrefix(&line, key + ":"))
        return std::string(absl::StripAsciiWhitespace(line));
    }
    return "<missing " + key + ">";
  }

  // "name: result" lines of `escape_probe syscalls`.
  static std::map<std::string, std::string> ProbeResults(const std::string& out) {
    std::map<std::string, std::string> results;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(": ", 1));
      results[kv.first] = kv.second;
    }
    return results;
  }

  std::string probe_dir_;
};

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

TEST_F(SecurityTest, RootGetsExactlyTheDefaultCapabilities) {
  v1::ContainerSpec spec = Spec({"grep", "-E", "^(Cap|NoNewPrivs|Seccomp)", "/proc/self/status"});
  spec.add_setup("grep -E '^Cap(Eff|Bnd)' /proc/self/status");
  v1::Container c = Run(spec);
  ASSERT_EQ(WaitFor(c.id()).exit_code(), 0);
  const std::string out = Logs(c.id());
  for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd"}) {
    EXPECT_EQ(StatusField(out, set), kDefaultCaps) << set;
  }
  EXPECT_EQ(StatusField(out, "CapAmb"), "0000000000000000");
  EXPECT_EQ(StatusField(out, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(out, "Seccomp"), "2");
  // Setup commands run with the same set.
  const std::string setup_and_workload = Logs(c.id(), v1::LOG_STREAM_STDOUT);
  EXPECT_THAT(setup_and_workload,
              HasSubstr(absl::StrCat("CapEff:\t", kDefaultCaps, "\nCapBnd:\t", kDefaultCaps)));
}

TEST_F(SecurityTest, CapDropAllAndCapAdd) {
  v1::ContainerSpec none = Spec({"grep", "^Cap", "/proc/self/status"});
  none.add_cap_drop("ALL");
  none.add_setup("grep CapEff /proc/self/status");
  Outcome dropped = RunToEnd(none);
  EXPECT_EQ(StatusField(dropped.out, "CapEff"), "0000000000000000");
  EXPECT_EQ(StatusField(dropped.out, "CapBnd"), "0000000000000000");

  v1::ContainerSpec raw = Spec({"grep", "^Cap", "/proc/self/status"});
  raw.add_cap_add("cap_net_raw");
  Outcome added = RunToEnd(raw);
  EXPECT_EQ(StatusField(added.out, "CapEff"), "00000000800425fb") << "bit 13 added";
  EXPECT_EQ(StatusField(added.out, "CapBnd"), "00000000800425fb");
}

TEST_F(SecurityTest, NonRootUserLosesCapabilitiesAtSetuid) {
  v1::ContainerSpec spec = Spec({"grep", "^Cap", "/proc/self/status"});
  spec.set_user("1000:1000");
  Outcome o = RunToEnd(spec);
  EXPECT_EQ(StatusField(o.out, "CapEff"), "0000000000000000");
  EXPECT_EQ(StatusField(o.out, "CapPrm"), "0000000000000000");
  EXPECT_EQ(StatusField(o.out, "CapAmb"), "0000000000000000");
  EXPECT_EQ(StatusField(o.out, "CapBnd"), kDefaultCaps);
}

TEST_F(SecurityTest, SetuidRootBinaryGainsNothing) {
  const std::string suid = probe_dir_ + "/escape_probe";
  ASSERT_EQ(chown(suid.c_str(), 0, 0), 0);
  ASSERT_EQ(chmod(suid.c_str(), 04755), 0);
  struct statvfs vfs {};
  ASSERT_EQ(statvfs(probe_dir_.c_str(), &vfs), 0);
  ASSERT_EQ(vfs.f_flag & ST_NOSUID, 0u) << "the test needs a file system that honours setuid";
  v1::ContainerSpec spec = Spec({"sh", "-c", "ls -l /probe/escape_probe; /probe/escape_probe ids"});
  spec.set_user("1000:1000");
  Outcome o = RunToEnd(spec);
  EXPECT_THAT(o.out, HasSubstr("-rwsr-xr-x")) << "the setuid bit is visible inside";
  EXPECT_THAT(o.out, HasSubstr("uid=1000 euid=1000\n"));
}

TEST_F(SecurityTest, SeccompRefusesEscapeSyscalls) {
  // With every capability the filter alone must refuse: EPERM here is not a missing cap.
  // (SYS_PTRACE would open the ptrace family, tested below.)
  v1::ContainerSpec spec = Spec({"/probe/escape_probe", "syscalls"});
  spec.add_cap_add("ALL");
  spec.add_cap_drop("SYS_PTRACE");
  Outcome o = RunToEnd(spec);
  std::map<std::string, std::string> results = ProbeResults(o.out);
  ASSERT_GE(results.size(), 40u) << o.out;
  for (const auto& [name, result] : results) {
    if (name == "clone3") {
      EXPECT_EQ(result, "Function not implemented") << name;
    } else if (name == "personality_linux") {
      EXPECT_EQ(result, "OK") << "PER_LINUX stays allowed";
    } else {
      EXPECT_EQ(result, "Operation not permitted") << name;
    }
  }
}

TEST_F(SecurityTest, ProbeSeesTheSyscallsWhenUnconfined) {
  // The control for the test above: the same probe without the filter gets other answers.
  v1::ContainerSpec spec = Spec({"/probe/escape_probe", "syscalls"});
  spec.add_cap_add("ALL");
  spec.set_seccomp("unconfined");
  std::map<std::string, std::string> results = ProbeResults(RunToEnd(spec).out);
  EXPECT_EQ(results["keyctl"], "OK");
  EXPECT_EQ(results["unshare"], "OK");
  EXPECT_EQ(results["clone"], "OK");
  EXPECT_EQ(results["personality"], "OK");
  EXPECT_EQ(results["ptrace"], "No such process");
  EXPECT_EQ(results["mount"], "No such device");
  EXPECT_EQ(results["setns"], "Bad file descriptor");
}

TEST_F(SecurityTest, PtraceNeedsSysPtrace) {
  v1::ContainerSpec spec = Spec({"/probe/escape_probe", "syscalls"});
  spec.add_cap_add("SYS_PTRACE");
  std::map<std::string, std::string> results = ProbeResults(RunToEnd(spec).out);
  EXPECT_EQ(results["ptrace"], "No such process") << "allowed, but pid 1 is not traced";
  EXPECT_EQ(results["mount"], "Operation not permitted");
}

TEST_F(SecurityTest, NamespacesAndMountsFailFromTheShell) {
  Outcome o =
      Sh("unshare -U true; echo unshare=$?; mount -t tmpfs none /mnt; echo mount=$?; "
         "nsenter -t 1 -m true; echo nsenter=$?");
  EXPECT_THAT(o.out, HasSubstr("unshare(0x10000000): Operation not permitted"));
  EXPECT_THAT(o.out, HasSubstr("unshare=1"));
  EXPECT_THAT(o.out, HasSubstr("mount: permission denied (are you root?)"));
  EXPECT_THAT(o.out, Not(HasSubstr("mount=0")));
  EXPECT_THAT(o.out, Not(HasSubstr("nsenter=0")));
}

TEST_F(SecurityTest, MaskedAndReadOnlyKernelPaths) {
  // Writes only open (`true >`) or touch per-namespace state (domainname), so nothing reaches
  // the host even if the protection were missing. This kernel may lack some of the files
  // (no /proc/kcore nor /proc/sysrq-trigger in some VMs): each is checked where it exists.
  Outcome o =
      Sh("echo kcore=$(cat /proc/kcore 2>/dev/null | wc -c); echo keys=$(cat /proc/keys | wc -c); "
         "echo timers=$(cat /proc/timer_list | wc -c); "
         "echo firmware=$(ls -A /sys/firmware | wc -l); echo acpi=$(ls -A /proc/acpi | wc -l); "
         "true > /proc/acpi/x; echo acpi_write=$?; "
         "test -e /proc/sysrq-trigger && { true > /proc/sysrq-trigger; echo sysrq=$?; }; "
         "echo quilt > /proc/sys/kernel/domainname; echo sys=$?; "
         "grep -E ' /proc/(keys|timer_list|acpi|sys) ' /proc/self/mountinfo | cut -d' ' -f5,6,9");
  EXPECT_THAT(o.out, HasSubstr("kcore=0\n"));
  EXPECT_THAT(o.out, HasSubstr("keys=0\n"));
  EXPECT_THAT(o.out, HasSubstr("timers=0\n"));
  EXPECT_THAT(o.out, HasSubstr("firmware=0\n"));
  EXPECT_THAT(o.out, HasSubstr("acpi=0\n"));
  EXPECT_THAT(o.out, HasSubstr("can't create /proc/acpi/x: Read-only file system"));
  EXPECT_THAT(o.out, HasSubstr("acpi_write=1"));
  if (access("/proc/sysrq-trigger", F_OK) == 0) {
    EXPECT_THAT(o.out, HasSubstr("can't create /proc/sysrq-trigger: Read-only file system"));
    EXPECT_THAT(o.out, HasSubstr("sysrq=1"));
  }
  EXPECT_THAT(o.out, HasSubstr("can't create /proc/sys/kernel/domainname: Read-only file system"));
  EXPECT_THAT(o.out, HasSubstr("sys=1"));
  // /dev/null bound over the files: a mount of the host's /dev type, not proc.
  EXPECT_THAT(o.out, HasSubstr("/proc/keys "));
  EXPECT_THAT(o.out, HasSubstr("/proc/timer_list "));
  EXPECT_THAT(o.out, Not(HasSubstr("/proc/keys rw,nosuid,nodev,noexec,relatime proc")));
  EXPECT_THAT(o.out, HasSubstr("/proc/acpi ro,nosuid,nodev,noexec,relatime tmpfs"));
  EXPECT_THAT(o.out, HasSubstr("/proc/sys ro,nosuid,nodev,noexec,relatime proc"));
}

TEST_F(SecurityTest, InitBinaryCannotBeReopenedOrOverwritten) {
  const std::string monitor =
      std::filesystem::path(QUILTD_PATH).parent_path().string() + "/quilt-monitor";
  // Compared byte for byte, which is what a hash before and after would stand for.
  const std::string before = ReadBytes(monitor);
  ASSERT_GT(before.size(), 0u);
  Outcome o =
      Sh("ls /proc/self/fd | tr '\\n' ' '; echo; pwd; "
         "echo x > /proc/1/exe; echo write=$?; cat /proc/1/exe > /dev/null; echo read=$?; "
         "readlink /proc/1/exe; echo link=$?; readlink /proc/1/fd/0; echo fdlink=$?; "
         "cat /proc/1/fd/0; echo fdopen=$?; cat /proc/1/environ; echo environ=$?");
  EXPECT_THAT(o.out, HasSubstr("0 1 2 3 \n")) << "ls's own directory fd is 3";
  EXPECT_THAT(o.out, HasSubstr("\n/\n"));
  EXPECT_THAT(o.out, HasSubstr("/proc/1/exe: Permission denied"));
  EXPECT_THAT(o.out, HasSubstr("write=1"));
  EXPECT_THAT(o.out, HasSubstr("read=1"));
  EXPECT_THAT(o.out, HasSubstr("link=1"));
  EXPECT_THAT(o.out, HasSubstr("fdlink=1"));
  EXPECT_THAT(o.out, HasSubstr("cat: can't open '/proc/1/fd/0': Permission denied"));
  EXPECT_THAT(o.out, HasSubstr("fdopen=1"));
  EXPECT_THAT(o.out, HasSubstr("environ=1"));
  EXPECT_TRUE(ReadBytes(monitor) == before) << "quilt-monitor on the host was modified";
}

TEST_F(SecurityTest, RawSocketsNeedNetRaw) {
  // Loopback is up in the container's network namespace: with NET_RAW the same ping works,
  // so the failure is the capability, not a missing route.
  Outcome denied = Sh("ping -c1 -W1 127.0.0.1; echo ping=$?");
  EXPECT_THAT(denied.out, HasSubstr("permission denied"));
  EXPECT_THAT(denied.out, HasSubstr("ping=1"));
  v1::ContainerSpec spec = Spec({"sh", "-c", "ping -c1 -W1 127.0.0.1; echo ping=$?"});
  spec.add_cap_add("NET_RAW");
  Outcome allowed = RunToEnd(spec);
  EXPECT_THAT(allowed.out, HasSubstr("1 packets received"));
  EXPECT_THAT(allowed.out, HasSubstr("ping=0"));
}

TEST_F(SecurityTest, ModulesCannotBeLoaded) {
  Outcome o = Sh("echo junk > /tmp/x.ko; insmod /tmp/x.ko; echo insmod=$?");
  EXPECT_THAT(o.out, HasSubstr("Operation not permitted"));
  EXPECT_THAT(o.out, Not(HasSubstr("insmod=0")));
}

TEST_F(SecurityTest, HostnameOfTheHostIsUntouched) {
  char host_before[256] = {};
  ASSERT_EQ(gethostname(host_before, sizeof(host_before)), 0);
  Outcome o = Sh("hostname quilt-evil; echo set=$?; hostname");
  EXPECT_THAT(o.out, HasSubstr("Operation not permitted"));
  EXPECT_THAT(o.out, HasSubstr("set=1"));
  char host_after[256] = {};
  ASSERT_EQ(gethostname(host_after, sizeof(host_after)), 0);
  EXPECT_STREQ(host_after, host_before);
}

TEST_F(SecurityTest, DefaultPidsLimitIs4096AndMinusOneLifts) {
  auto pids_max = [&](int64_t requested) {
    v1::ContainerSpec spec = Spec({"sleep", "30"});
    spec.mutable_resources()->set_pids_max(requested);
    v1::Container c = Run(spec);
    std::string value = "<no pids.max>";
    std::ifstream max(CgroupFileOf(c.pid(), "pids.max"));
    std::getline(max, value);
    EXPECT_EQ(Cli({"rm", "-f", c.id()}).exit_code, 0);
    return value;
  };
  EXPECT_EQ(pids_max(0), "4096");
  EXPECT_EQ(pids_max(-1), "max");
  EXPECT_EQ(pids_max(100), "100");
}

TEST_F(SecurityTest, BadSecurityOptionsAreRejected) {
  v1::CreateRequest request;
  *request.mutable_spec() = Spec({"true"});
  request.mutable_spec()->add_cap_add("NET_RAWW");
  v1::CreateResponse response;
  grpc::ClientContext context;
  grpc::Status status = containers_->Create(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "spec.cap_add[0]: unknown capability \"NET_RAWW\"");
  CommandResult cli = Cli({"run", "--seccomp", "off", "--", "true"});
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_THAT(cli.err, HasSubstr("spec.seccomp"));
}

TEST_F(SecurityTest, StatusShowsSecurityOptions) {
  CommandResult created = Cli({"create", "--cap-drop", "ALL", "--cap-add", "KILL", "--seccomp",
                               "unconfined", "--", "true"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id(absl::StripAsciiWhitespace(created.out));
  CommandResult status = Cli({"status", id});
  EXPECT_THAT(status.out, HasSubstr("capabilities: default -ALL +KILL\n"));
  EXPECT_THAT(status.out, HasSubstr("seccomp: unconfined\n"));
  EXPECT_THAT(status.out, HasSubstr("pids=default(4096)"));
  EXPECT_EQ(Cli({"rm", id}).exit_code, 0);
}

}  // namespace
}  // namespace quilt::testing
