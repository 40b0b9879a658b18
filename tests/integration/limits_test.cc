// Limits hold for real: cgroup memory, pids and cpu; resource limits (spec.ulimits); and
// quiltd's own open-files limit under the usual soft limit of 1024.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"

namespace quilt::testing {
namespace {

class LimitsTest : public QuiltdTest {};

TEST_F(LimitsTest, MemoryHogIsOomKilled) {
  // Appending to a shell variable touches ever more memory: ~200 MB against a 32 MiB limit.
  v1::ContainerSpec spec =
      Spec({"sh", "-c", "x=0123456789abcdef; while true; do x=$x$x; echo ${#x}; done"});
  spec.mutable_resources()->set_memory_bytes(32 << 20);
  v1::Container c = Run(spec);
  v1::Container done = WaitFor(c.id());
  EXPECT_EQ(done.state(), v1::CONTAINER_STATE_EXITED);
  EXPECT_EQ(done.reason(), "OOMKilled");
  EXPECT_EQ(done.exit_code(), 137);
}

TEST_F(LimitsTest, ForkBombStopsAtThePidsLimit) {
  // Each successful fork prints the child's pid (echo is a builtin: it needs no fork); the
  // shell gives up at the first fork the pids limit refuses.
  v1::ContainerSpec spec = Spec({"sh", "-c", "for i in $(seq 40); do sleep 30 & echo $!; done"});
  spec.mutable_resources()->set_pids_max(10);
  v1::Container c = Run(spec);
  v1::Container done = WaitFor(c.id());
  EXPECT_NE(done.exit_code(), 0);
  const std::string forks = Logs(c.id(), v1::LOG_STREAM_STDOUT);
  const size_t started = std::count(forks.begin(), forks.end(), '\n');
  EXPECT_GT(started, 0u);
  // The init and the shell count against the limit too.
  EXPECT_LE(started, 8u) << forks;
  EXPECT_THAT(Logs(c.id(), v1::LOG_STREAM_STDERR), ::testing::HasSubstr("can't fork"));
}

TEST_F(LimitsTest, CpuBurnerGetsItsShare) {
  // Spin for 3 s of wall time, then print the CPU seconds used (utime+stime in ticks).
  const std::string script =
      "end=$(( $(date +%s) + 3 )); (while [ $(date +%s) -lt $end ]; do :; done) ; "
      "cat /proc/$$/stat | cut -d' ' -f16,17";
  auto cpu_seconds = [&](double cpus) {
    v1::ContainerSpec spec = Spec({"sh", "-c", script});
    spec.mutable_resources()->set_cpus(cpus);
    v1::Container c = Run(spec);
    WaitFor(c.id());
    std::string out(absl::StripAsciiWhitespace(Logs(c.id())));
    std::vector<std::string> f = absl::StrSplit(out, ' ');
    long cutime = 0, cstime = 0;
    EXPECT_EQ(f.size(), 2u) << out;
    if (f.size() == 2) {
      EXPECT_TRUE(absl::SimpleAtoi(f[0], &cutime));
      EXPECT_TRUE(absl::SimpleAtoi(f[1], &cstime));
    }
    return (cutime + cstime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  };
  const double limited = cpu_seconds(0.25);
  // 0.25 CPU for ~3 s is ~0.75 s; allow scheduling slack but far from a full core (3 s).
  EXPECT_LT(limited, 1.3);
  EXPECT_GT(limited, 0.3);
}

// The "Max open files" line of /proc/self/limits for a soft and hard limit.
std::string OpenFilesLine(const std::string& soft, const std::string& hard) {
  char line[128];
  snprintf(line, sizeof(line), "Max open files            %-20s %-20s %-10s", soft.c_str(),
           hard.c_str(), "files");
  return line;
}

v1::Ulimit Ulimit(const std::string& name, int64_t soft, int64_t hard) {
  v1::Ulimit limit;
  limit.set_name(name);
  limit.set_soft(soft);
  limit.set_hard(hard);
  return limit;
}

TEST_F(LimitsTest, UlimitsReachSetupCommandsTheWorkloadAndExecs) {
  v1::ContainerSpec spec =
      Spec({"sh", "-c", "cat /tmp/setup-limits; grep 'open files' /proc/self/limits; sleep 60"});
  spec.add_setup("grep 'open files' /proc/self/limits > /tmp/setup-limits");
  *spec.add_ulimits() = Ulimit("nofile", 512, 1024);
  v1::Container c = Run(spec);
  ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << c.message();
  const std::string line = OpenFilesLine("512", "1024");
  ASSERT_TRUE(WaitForLog(c.id(), line + "\n" + line + "\n")) << Logs(c.id());
  CommandResult exec = Cli({"exec", c.id(), "--", "grep", "open files", "/proc/self/limits"});
  EXPECT_EQ(exec.exit_code, 0) << exec.err;
  EXPECT_EQ(exec.out, line + "\n");
}

TEST_F(LimitsTest, FileSizeLimitStopsAWriter) {
  CommandResult run =
      Cli({"run", "--rm", "--ulimit", "fsize=4096", "--", "sh", "-c",
           "head -c 100000 /dev/zero > /tmp/big; echo status $?; wc -c < /tmp/big"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // SIGXFSZ killed head at the limit: 128 + 25.
  EXPECT_EQ(run.out, "status 153\n4096\n");
}

TEST_F(LimitsTest, OpenFilesDefaultIs1024SoftAndTheDaemonsHardLimit) {
  rlimit own{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &own), 0);
  const rlim_t soft = std::min<rlim_t>(1024, own.rlim_max);
  CommandResult run = Cli({"run", "--rm", "--", "grep", "open files", "/proc/self/limits"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, OpenFilesLine(std::to_string(soft), std::to_string(own.rlim_max)) + "\n");
}

TEST_F(LimitsTest, UnknownOrInvertedUlimitsAreRefused) {
  CommandResult unknown = Cli({"run", "--rm", "--ulimit", "files=10", "--", "true"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_THAT(unknown.err, ::testing::HasSubstr("unknown limit"));
  v1::ContainerSpec spec = Spec({"true"});
  *spec.add_ulimits() = Ulimit("nofile", 2048, 1024);
  grpc::ClientContext ctx;
  v1::CreateRequest request;
  *request.mutable_spec() = spec;
  v1::CreateResponse response;
  grpc::Status status = containers_->Create(&ctx, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("spec.ulimits[0]: soft limit 2048"));
}

// /dev/shm is a tmpfs of 64 MiB unless the spec sizes it: on a spare's staged /dev (resized
// at the claim) and on a cold start's (a container with a bind mount) alike.
TEST_F(LimitsTest, ShmIs64MiBByDefaultAndSizedOnRequest) {
  const std::string show_size = "grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'";
  CommandResult standard = Cli({"run", "--rm", "--", "sh", "-c", show_size});
  EXPECT_EQ(standard.exit_code, 0) << standard.err;
  EXPECT_EQ(standard.out, "size=65536k\n");
  CommandResult small = Cli({"run", "--rm", "--shm-size", "1m", "--", "sh", "-c",
                             show_size + "; head -c 2097152 /dev/zero > /dev/shm/x; echo $?; "
                                         "wc -c < /dev/shm/x"});
  EXPECT_EQ(small.exit_code, 0) << small.err;
  EXPECT_EQ(small.out, "size=1024k\n1\n1048576\n") << "the write stops at the size";
  CommandResult cold = Cli(
      {"run", "--rm", "--shm-size", "2m", "-v", dir_ + ":/host:ro", "--", "sh", "-c", show_size});
  EXPECT_EQ(cold.exit_code, 0) << cold.err;
  EXPECT_EQ(cold.out, "size=2048k\n");
}

// A read-only rootfs with tmpfs scratch space: writable, sized, noexec unless asked, mounted
// parents first (a bind inside a tmpfs and a tmpfs inside a bind both stay visible).
TEST_F(LimitsTest, TmpfsMountsOnAReadOnlyRootfs) {
  ASSERT_EQ(mkdir((dir_ + "/data").c_str(), 0755), 0);
  CommandResult run = Cli(
      {"run", "--rm", "--read-only", "-v", dir_ + "/data:/srv/data", "--tmpfs",
       "/srv/data/cache:size=1m", "--tmpfs", "/scratch:mode=700", "--tmpfs", "/tools:exec", "-v",
       dir_ + "/data:/scratch/in:ro", "--", "sh", "-c",
       "touch /x 2>/dev/null || echo rootfs read-only; "
       "head -c 2097152 /dev/zero > /srv/data/cache/f; echo cache $? $(wc -c < /srv/data/cache/f); "
       "ls -ld /scratch | cut -c1-10; ls /scratch; "
       "printf '#!/bin/sh\\necho ran\\n' > /scratch/s; chmod +x /scratch/s; /scratch/s || true; "
       "cp /scratch/s /tools/s; /tools/s; "
       "grep ' /scratch ' /proc/mounts | grep -c noexec; "
       "grep ' /tools ' /proc/mounts | grep -c noexec || true"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "rootfs read-only\n"
            "cache 1 1048576\n"
            "drwx------\n"
            "in\n"
            "ran\n"
            "1\n"
            "0\n")
      << run.err;
  EXPECT_THAT(run.err, ::testing::HasSubstr("Permission denied")) << "noexec by default";
}

// Started with the soft limit most shells and services get (here 256, so that the test
// stays short), quiltd still runs far more containers than that many descriptors would hold:
// it holds a few per running container.
TEST_F(LimitsTest, ManyContainersUnderALowOpenFilesSoftLimit) {
  ASSERT_EQ(StopDaemon(), 0);
  daemon_open_files_soft_ = 256;
  StartDaemon();
  constexpr int kContainers = 160;
  for (int i = 0; i < kContainers; ++i) {
    v1::Container c = Run(Spec({"sleep", "600"}));
    ASSERT_EQ(c.state(), v1::CONTAINER_STATE_RUNNING) << i << ": " << c.message();
  }
  CommandResult ps = Cli({"ps", "-q"});
  EXPECT_EQ(std::count(ps.out.begin(), ps.out.end(), '\n'), kContainers);
}

}  // namespace
}  // namespace quilt::testing
