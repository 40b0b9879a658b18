#include "quiltd/monitor/exec_hardening.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include "common/unique_fd.h"
#include "quiltd/monitor/channel.h"

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

int ReadLastCap() {
  UniqueFd fd(open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC));
  char text[16] = {};
  if (!fd.valid() || read(fd.get(), text, sizeof(text) - 1) <= 0) return -1;
  return atoi(text);
}

// The init's permitted set: a capability the host never gave quiltd (a container host's own
// bounding set) cannot be granted, and asking capset for it would fail the start.
bool ReadPermitted(uint64_t* permitted) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  *permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  return true;
}

int Fail(const char* what, const char** step) {
  *step = what;
  return errno;
}

}  // namespace

ExecHardening::~ExecHardening() {
  if (filter_ != nullptr) seccomp_release(filter_);
}

bool ExecHardening::Prepare(const MonitorConfig& config, StartReport* failure) {
  last_cap_ = ReadLastCap();
  if (last_cap_ < 0 || last_cap_ > 63) {
    SetStartFailure(failure, StartStage::kSecurity, errno, "read /proc/sys/kernel/cap_last_cap");
    return false;
  }
  uint64_t permitted = 0;
  if (!ReadPermitted(&permitted)) {
    SetStartFailure(failure, StartStage::kSecurity, errno, "read capabilities");
    return false;
  }
  capabilities_ = config.capabilities & permitted;
  if (!config.seccomp) return true;
  filter_ = seccomp_init(SCMP_ACT_ALLOW);
  if (filter_ == nullptr) {
    SetStartFailure(failure, StartStage::kSecurity, ENOMEM, "create seccomp filter");
    return false;
  }
  const int rc = AddRules(filter_, (capabilities_ & (uint64_t{1} << kCapSysPtrace)) != 0);
  if (rc != 0) {
    SetStartFailure(failure, StartStage::kSecurity, -rc, "build seccomp filter");
    return false;
  }
  return true;
}

bool ExecHardening::Compile(StartReport* failure) {
  if (filter_ == nullptr) return true;
  UniqueFd out(memfd_create("quilt-seccomp", MFD_CLOEXEC));
  if (!out.valid()) {
    SetStartFailure(failure, StartStage::kSecurity, errno, "create seccomp program file");
    return false;
  }
  const int rc = seccomp_export_bpf(filter_, out.get());
  if (rc != 0) {
    SetStartFailure(failure, StartStage::kSecurity, -rc, "export seccomp filter");
    return false;
  }
  const off_t size = lseek(out.get(), 0, SEEK_END);
  if (size <= 0 || size % sizeof(sock_filter) != 0) {
    SetStartFailure(failure, StartStage::kSecurity, EINVAL, "export seccomp filter");
    return false;
  }
  std::vector<sock_filter> program(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(out.get(), program.data(), static_cast<size_t>(size), 0) != size) {
    SetStartFailure(failure, StartStage::kSecurity, errno, "read seccomp program");
    return false;
  }
  program_ = std::move(program);
  seccomp_release(filter_);
  filter_ = nullptr;
  return true;
}

int ExecHardening::ApplyToSelf(const char** step) {
  int error = Restrict(step);
  if (error == 0) error = LoadFilter(step);
  if (error == 0) applied_ = true;
  return error;
}

int ExecHardening::Restrict(const char** step) const {
  if (applied_) return 0;  // inherited
  // Set before anything is exec'd: a setuid binary or file capabilities can then never
  // raise what the container holds, whatever the image contains.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Fail("set no_new_privs", step);
  // The bounding set limits what any later exec can gain; dropping needs CAP_SETPCAP, which
  // the child still has here.
  for (int cap = 0; cap <= last_cap_; ++cap) {
    if ((capabilities_ & (uint64_t{1} << cap)) != 0) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return Fail("drop bounding capability", step);
  }
  return 0;
}

int ExecHardening::Lock(uid_t uid, const char** step) const {
  const uint64_t keep = uid == 0 ? capabilities_ : 0;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    const auto half = static_cast<uint32_t>(keep >> (32 * i));
    data[i] = {half, half, half};
  }
  if (syscall(SYS_capset, &header, data) != 0) return Fail("set capabilities", step);
  // Ambient capabilities would survive the exec of an unprivileged binary; none are granted.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Fail("clear ambient capabilities", step);
  }
  // Last: once loaded, the filter also applies to anything this process still does.
  return applied_ ? 0 : LoadFilter(step);
}

int ExecHardening::LoadFilter(const char** step) const {
  // No flags, as seccomp_load uses them (no_new_privs is already set by Restrict).
  if (!program_.empty()) {
    sock_fprog program{static_cast<unsigned short>(program_.size()),
                       const_cast<sock_filter*>(program_.data())};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) {
      return Fail("load seccomp filter", step);
    }
  } else if (filter_ != nullptr) {
    const int rc = seccomp_load(filter_);
    if (rc != 0) {
      *step = "load seccomp filter";
      return -rc;
    }
  }
  return 0;
}

}  // namespace quilt
