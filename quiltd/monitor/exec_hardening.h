// The last containment steps of every process the container init execs (setup commands and
// the workload): resource limits, no_new_privs, the capability sets and the seccomp filter,
// whose BPF program quiltd compiled (config.seccomp_program). Each forked child applies the steps
// right before its exec, in two halves around its identity change.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

class ExecHardening {
 public:
  ExecHardening() = default;
  ExecHardening(const ExecHardening&) = delete;
  ExecHardening& operator=(const ExecHardening&) = delete;

  // Reads the kernel's last capability and takes the seccomp program of `config`. Returns
  // false with `failure` set (stage kSecurity) when the kernel refuses.
  bool Prepare(const MonitorConfig& config, StartReport* failure);

  // After Prepare: applies no_new_privs, the bounding set and the seccomp filter to the
  // calling process itself, for a process whose forks run the commands (the exec server).
  // They inherit all three, so Restrict and then Lock skip them: per command that saves
  // ~40 prctl calls and, above all, the filter's attach (0.24 ms measured: the kernel runs
  // the filter for every syscall number to build its allow cache). The caller keeps its
  // effective capabilities. Returns 0, or an errno with `*step` set.
  int ApplyToSelf(const char** step);

  // First half, in the child, while it still has the init's full capabilities: sets the
  // resource limits (raising a hard one needs CAP_SYS_RESOURCE), no_new_privs, and drops
  // every capability outside the kept set from the bounding set.
  // Returns 0, or an errno with `*step` naming the step that failed.
  int Restrict(const char** step) const;

  // Second half, after setgroups/setgid/setuid to `uid`: effective, permitted and
  // inheritable become the kept set for root and empty for any other uid (the kernel already
  // cleared them at setuid), the ambient set is cleared, then the seccomp filter is loaded.
  // Returns 0, or an errno with `*step` set.
  int Lock(uid_t uid, const char** step) const;

 private:
  int LoadFilter(const char** step) const;

  struct Limit {
    ResourceLimit limit;
    std::string step;  // "set resource limit <name>", made before any fork
  };

  uint64_t capabilities_ = 0;
  std::vector<Limit> limits_;
  int last_cap_ = -1;
  std::vector<sock_filter> program_;  // the seccomp filter; empty when unconfined
  bool applied_ = false;              // ApplyToSelf ran: inherited by every child
};

}  // namespace quilt
