#include "quiltd/runtime/seccomp_profile.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/kcmp.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace quilt {
namespace {

constexpr uint64_t kSysPtrace = uint64_t{1} << 19;

// Loads `program` in a child and returns, as its exit code, one bit per syscall the filter
// refused as the profile says: 1 unshare(CLONE_NEWUTS) EPERM, 2 clone3 ENOSYS, 4 kcmp EPERM,
// 8 personality(ADDR_NO_RANDOMIZE) EPERM. 64: the program did not load.
int RefusedInChild(const std::string& program) {
  const pid_t child = fork();
  if (child == 0) {
    sock_fprog prog{static_cast<unsigned short>(program.size() / sizeof(sock_filter)),
                    reinterpret_cast<sock_filter*>(const_cast<char*>(program.data()))};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
      _exit(64);
    }
    int refused = 0;
    if (syscall(SYS_unshare, CLONE_NEWUTS) != 0 && errno == EPERM) refused |= 1;
    if (syscall(SYS_clone3, nullptr, 0) != 0 && errno == ENOSYS) refused |= 2;
    if (syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0) != 0 && errno == EPERM) {
      refused |= 4;
    }
    if (syscall(SYS_personality, 0x0040000) == -1 && errno == EPERM) refused |= 8;
    _exit(refused);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(SeccompProgramsTest, CompilesBothVariantsAsWholePrograms) {
  absl::StatusOr<SeccompPrograms> programs = SeccompPrograms::Compile();
  ASSERT_TRUE(programs.ok()) << programs.status();
  const std::string& confined = programs->For(0);
  const std::string& tracing = programs->For(~uint64_t{0});
  for (const std::string* program : {&confined, &tracing}) {
    EXPECT_GT(program->size(), 0u);
    EXPECT_EQ(program->size() % sizeof(sock_filter), 0u);
    EXPECT_LE(program->size() / sizeof(sock_filter), size_t{BPF_MAXINSNS});
  }
  EXPECT_EQ(&programs->For(~kSysPtrace), &confined) << "only SYS_PTRACE opens tracing";
}

TEST(SeccompProgramsTest, TheProgramRefusesWhatTheProfileRefuses) {
  absl::StatusOr<SeccompPrograms> programs = SeccompPrograms::Compile();
  ASSERT_TRUE(programs.ok()) << programs.status();
  EXPECT_EQ(RefusedInChild(programs->For(0)), 1 | 2 | 4 | 8);
}

// Whether this process may hold CAP_SYS_PTRACE (its permitted set), as quiltd checks.
bool MayTrace() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  EXPECT_EQ(syscall(SYS_capget, &header, data), 0);
  return (data[0].permitted & kSysPtrace) != 0;
}

// kcmp stays allowed with SYS_PTRACE, which quiltd can only grant if it holds it itself:
// without it in the permitted set, asking for it still gets the confined program.
TEST(SeccompProgramsTest, SysPtraceAllowsTheTracingFamilyOnlyWhenHeld) {
  absl::StatusOr<SeccompPrograms> programs = SeccompPrograms::Compile();
  ASSERT_TRUE(programs.ok()) << programs.status();
  if (!MayTrace()) {
    EXPECT_EQ(&programs->For(kSysPtrace), &programs->For(0));
    return;
  }
  ASSERT_NE(&programs->For(kSysPtrace), &programs->For(0));
  EXPECT_EQ(RefusedInChild(programs->For(kSysPtrace)), 1 | 2 | 8);
}

}  // namespace
}  // namespace quilt
