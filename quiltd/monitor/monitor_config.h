// What quiltd hands a monitor: everything needed to build and run one container, fully
// resolved (absolute host paths, numeric ids, complete env). quiltd writes it as
// <bundle>/config.json before spawning `quilt-monitor <bundle>`; the monitor only reads it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/resource_limits.h"

namespace quilt {

struct BindMount {
  std::string source;       // absolute host path
  std::string destination;  // absolute path inside the container
  bool read_only = false;
};

struct TmpfsMount {
  std::string destination;  // absolute path inside the container
  int64_t size_bytes = 0;
  uint32_t mode = 0;
  bool exec = false;  // noexec unless set
};

// /dev/shm's size when the config gives none (a spare stages its /dev with it).
inline constexpr int64_t kDefaultShmBytes = 64 * 1024 * 1024;

struct MonitorConfig {
  std::string container_id;
  std::string bundle_dir;  // the container's directory; every path below is inside it or the image

  // Root filesystem: overlay of lower_dirs (topmost first) under upper_dir, mounted at
  // rootfs_dir inside the container's own mount namespace (so it vanishes with it).
  std::vector<std::string> lower_dirs;
  std::string upper_dir;
  std::string work_dir;
  std::string rootfs_dir;
  bool read_only_rootfs = false;
  std::vector<BindMount> mounts;
  std::vector<TmpfsMount> tmpfs;  // mounted with the binds, parents first (sandbox.cc)
  int64_t shm_size_bytes = 0;     // /dev/shm; 0: kDefaultShmBytes

  std::string hostname;
  bool new_network = true;  // false: share the host's network namespace

  // The workload.
  std::vector<std::string> argv;  // argv[0] searched in PATH from env when it has no '/'
  std::vector<std::string> env;   // complete environment, "K=V"
  std::string working_dir = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  // Interactive workload: `tty` runs it on a terminal of the container's devpts (the init
  // allocates it; the monitor holds the master); `stdin_open` gives it a stdin pipe (or the
  // terminal) instead of /dev/null. Either makes the monitor listen on <bundle>/attach.sock.
  bool tty = false;
  bool stdin_open = false;

  // Shell commands run with /bin/sh -c, in order, as root, before the workload.
  std::vector<std::string> setup;

  // Hardening of setup commands and the workload. `capabilities`: bit n keeps capability n
  // in the bounding, effective, permitted and inheritable sets (a non-root workload loses
  // all but the bounding set at setuid); `seccomp_program`: the seccomp filter loaded before
  // exec, as its BPF program (raw struct sock_filter array, compiled by quiltd:
  // quiltd/runtime/seccomp_profile.h); empty: unconfined. no_new_privs is always set.
  uint64_t capabilities = 0;
  std::string seccomp_program;
  // setrlimit'd in each of those processes (and in exec'd ones) before anything else, while
  // it still holds the capabilities to raise a hard limit. Others stay as inherited.
  std::vector<ResourceLimit> rlimits;

  // cgroup placement. v1/hybrid: the init's pid is written to each of these cgroup.procs
  // files. v2: clone3(CLONE_INTO_CGROUP) into this directory. Either may be empty.
  std::vector<std::string> cgroup_procs_files;
  std::string cgroup_v2_dir;

  // User namespace: container ids 0..userns_size-1 map to host ids userns_host_id.. (uids
  // and gids alike). userns_size 0: no user namespace, container root is host root.
  uint32_t userns_host_id = 0;
  uint32_t userns_size = 0;

  std::string log_path;       // the log file (log_record.h format), appended to
  int64_t log_max_bytes = 0;  // rotate the log at this size (0: never)
  int log_max_files = 1;      // log files kept, the one being written included
  std::string state_path;     // MonitorState, written once the workload runs
  std::string exit_path;      // MonitorExit, written last, after the log is complete
};

// Parses config.json text.
absl::StatusOr<MonitorConfig> ParseMonitorConfig(const std::string& json_text);
// Serializes for config.json.
std::string SerializeMonitorConfig(const MonitorConfig& config);

}  // namespace quilt
