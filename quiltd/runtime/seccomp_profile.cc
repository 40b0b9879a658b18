#include "quiltd/runtime/seccomp_profile.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace quilt {
namespace {

constexpr int kCapSysPtrace = 19;

// Refused outright with EPERM: what Docker's default profile refuses to a container without
// extra capabilities. Kernel keyrings are not namespaced; the rest reach kernel-wide state
// (time, swap, modules, kexec, quotas, the kernel log, BPF, perf) or build a new view of the
// file systems (mount API, namespaces, handles that bypass path checks: CVE-2014-3519).
constexpr const char* kRefused[] = {"keyctl",
                                    "add_key",
                                    "request_key",
                                    "kexec_load",
                                    "kexec_file_load",
                                    "bpf",
                                    "perf_event_open",
                                    "mount",
                                    "umount",
                                    "umount2",
                                    "pivot_root",
                                    "setns",
                                    "open_by_handle_at",
                                    "name_to_handle_at",
                                    "init_module",
                                    "finit_module",
                                    "delete_module",
                                    "create_module",
                                    "iopl",
                                    "ioperm",
                                    "swapon",
                                    "swapoff",
                                    "reboot",
                                    "settimeofday",
                                    "stime",
                                    "clock_settime",
                                    "clock_adjtime",
                                    "adjtimex",
                                    "acct",
                                    "lookup_dcookie",
                                    "syslog",
                                    "userfaultfd",
                                    "quotactl",
                                    "nfsservctl",
                                    "vm86",
                                    "vm86old",
                                    "uselib",
                                    "fsopen",
                                    "fsmount",
                                    "fsconfig",
                                    "move_mount",
                                    "open_tree",
                                    "fspick",
                                    "mount_setattr",
                                    "get_kernel_syms",
                                    "query_module"};

// Reading or writing another process's memory: refused unless SYS_PTRACE was added.
constexpr const char* kTracing[] = {"ptrace", "process_vm_readv", "process_vm_writev", "kcmp"};

// Namespace flags of clone(2) and unshare(2). CLONE_NEWTIME (0x80) overlaps clone's exit
// signal byte, so it is refused for unshare only (clone cannot create a time namespace).
constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};
constexpr uint64_t kCloneNewTime = 0x00000080;

// personality(2) may only select PER_LINUX or PER_LINUX32 (bit 3) with UNAME26 (bit 17):
// any other bit is refused, so ASLR cannot be turned off (ADDR_NO_RANDOMIZE) nor
// READ_IMPLIES_EXEC or MMAP_PAGE_ZERO turned on. One comparison per rule is all libseccomp
// allows on an argument, so it is one rule per forbidden bit.
constexpr uint64_t kPersonalityAllowedBits = 0x00020008;

int Refuse(scmp_filter_ctx ctx, const char* name, unsigned int count = 0,
           const scmp_arg_cmp* cmp = nullptr) {
  const int nr = seccomp_syscall_resolve_name(name);
  // A name no enabled architecture knows (get_kernel_syms on a recent table) has nothing to
  // filter.
  if (nr == __NR_SCMP_ERROR) return 0;
  return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), nr, count, cmp);
}

int RefuseWhenBitSet(scmp_filter_ctx ctx, const char* name, uint64_t bit) {
  const scmp_arg_cmp cmp = SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit);
  return Refuse(ctx, name, 1, &cmp);
}

// The x86-64 filter also covers the i386 and x32 ABIs: a process can enter the kernel
// through either (int 0x80, x32 syscall numbers), and a filter that listed only the native
// table would let `mount` through them.
int AddRules(scmp_filter_ctx ctx, bool allow_tracing) {
  int rc = seccomp_arch_add(ctx, SCMP_ARCH_X86);
  if (rc == 0 || rc == -EEXIST) rc = seccomp_arch_add(ctx, SCMP_ARCH_X32);
  if (rc == -EEXIST) rc = 0;
  for (const char* name : kRefused) {
    if (rc == 0) rc = Refuse(ctx, name);
  }
  for (const char* name : kTracing) {
    if (rc == 0 && !allow_tracing) rc = Refuse(ctx, name);
  }
  for (uint64_t flag : kNamespaceFlags) {
    if (rc == 0) rc = RefuseWhenBitSet(ctx, "clone", flag);
    if (rc == 0) rc = RefuseWhenBitSet(ctx, "unshare", flag);
  }
  if (rc == 0) rc = RefuseWhenBitSet(ctx, "unshare", kCloneNewTime);
  // clone3 passes its flags in memory, which a filter cannot read: ENOSYS makes glibc fall
  // back to clone(2), whose flags are checked above (Docker does the same).
  if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  for (int bit = 0; bit < 32 && rc == 0; ++bit) {
    const uint64_t value = uint64_t{1} << bit;
    if ((value & kPersonalityAllowedBits) == 0) rc = RefuseWhenBitSet(ctx, "personality", value);
  }
  return rc;
}

absl::StatusOr<std::string> CompileProfile(bool allow_tracing) {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> filter(seccomp_init(SCMP_ACT_ALLOW),
                                                          seccomp_release);
  if (filter == nullptr) return absl::ResourceExhaustedError("create seccomp filter");
  // A binary tree of syscall numbers instead of a list: the kernel runs the program once per
  // syscall number and ABI when it is attached (to cache the plain allows), which took 211 us
  // per container start with the list and 62 us with the tree.
  if (const int rc = seccomp_attr_set(filter.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc != 0) {
    return ErrnoStatus(-rc, "set seccomp filter optimization");
  }
  if (const int rc = AddRules(filter.get(), allow_tracing); rc != 0) {
    return ErrnoStatus(-rc, "build seccomp filter");
  }
  UniqueFd out(memfd_create("quilt-seccomp", MFD_CLOEXEC));
  if (!out.valid()) return ErrnoStatus("create seccomp program file");
  if (const int rc = seccomp_export_bpf(filter.get(), out.get()); rc != 0) {
    return ErrnoStatus(-rc, "export seccomp filter");
  }
  const off_t size = lseek(out.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0 || size / sizeof(sock_filter) > BPF_MAXINSNS) {
    return absl::InternalError(absl::StrCat("export seccomp filter: ", size, " bytes"));
  }
  std::string program(static_cast<size_t>(size), '\0');
  if (pread(out.get(), program.data(), program.size(), 0) != size) {
    return ErrnoStatus("read seccomp program");
  }
  return program;
}

absl::StatusOr<uint64_t> ReadPermitted() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return ErrnoStatus("read capabilities");
  return data[0].permitted | (uint64_t{data[1].permitted} << 32);
}

}  // namespace

absl::StatusOr<SeccompPrograms> SeccompPrograms::Compile() {
  SeccompPrograms programs;
  QUILT_ASSIGN_OR_RETURN(programs.permitted_, ReadPermitted());
  QUILT_ASSIGN_OR_RETURN(programs.confined_, CompileProfile(false));
  QUILT_ASSIGN_OR_RETURN(programs.tracing_, CompileProfile(true));
  return programs;
}

const std::string& SeccompPrograms::For(uint64_t capabilities) const {
  const uint64_t ptrace = uint64_t{1} << kCapSysPtrace;
  return (capabilities & permitted_ & ptrace) != 0 ? tracing_ : confined_;
}

}  // namespace quilt
