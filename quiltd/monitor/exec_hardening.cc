#include "quiltd/monitor/exec_hardening.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/unique_fd.h"
#include "quiltd/monitor/channel.h"

namespace quilt {
namespace {

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
  limits_.clear();
  for (const ResourceLimit& limit : config.rlimits) {
    limits_.push_back({limit, "set resource limit " + ResourceLimitName(limit.resource)});
  }
  // The codec checked it is whole instructions.
  program_.resize(config.seccomp_program.size() / sizeof(sock_filter));
  memcpy(program_.data(), config.seccomp_program.data(), config.seccomp_program.size());
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
  for (const Limit& entry : limits_) {
    const rlimit value{entry.limit.soft, entry.limit.hard};
    if (setrlimit(entry.limit.resource, &value) != 0) return Fail(entry.step.c_str(), step);
  }
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
  if (program_.empty()) return 0;
  // No flags (no_new_privs is already set by Restrict).
  sock_fprog program{static_cast<unsigned short>(program_.size()),
                     const_cast<sock_filter*>(program_.data())};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) {
    return Fail("load seccomp filter", step);
  }
  return 0;
}

}  // namespace quilt
