// cgroup limits hold for real: memory, pids, cpu.
#include <algorithm>

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

}  // namespace
}  // namespace quilt::testing
