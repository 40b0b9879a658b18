#include "quiltd/monitor/userns.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <string>

#include "quiltd/monitor/channel.h"
#include "quiltd/monitor/sandbox.h"
#include "quiltd/monitor/shifted_copy.h"

namespace quilt {
namespace {

// The new mount API's ABI values, spelled out as in sandbox.cc (glibc 2.36's <sys/mount.h>
// and <linux/mount.h> clash).
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrIdmap = 0x00100000;
constexpr unsigned int kOpenTreeClone = 1;
constexpr unsigned int kMoveMountFromEmptyPath = 0x00000004;

bool Fail(StartReport* failure, int error, const std::string& detail) {
  SetStartFailure(failure, StartStage::kUserNamespace, error, detail.c_str());
  return false;
}

bool WriteMap(const std::string& path, const std::string& line, StartReport* failure) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid() ||
      write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return Fail(failure, errno, "write " + path);
  }
  return true;
}

// A detached clone of `dir` whose ids are shifted through `userns_fd`'s map, attached over
// `dir` itself in the (private) mount namespace: overlayfs on 6.1 takes only layers that are
// mounted in the caller's namespace, not detached ones. ext4, xfs and btrfs support id-mapped
// mounts on 6.1; tmpfs only from 6.3, which fails here with EINVAL (see MakeShiftedLayer).
bool MountIdMappedLayer(const std::string& dir, int userns_fd, StartReport* failure) {
  UniqueFd tree(
      static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, dir.c_str(), kOpenTreeClone | O_CLOEXEC)));
  if (!tree.valid()) return Fail(failure, errno, "clone mount of layer " + dir);
  MountAttr attr{kMountAttrIdmap, 0, 0, static_cast<uint64_t>(userns_fd)};
  if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH, &attr, sizeof(attr)) != 0) {
    return Fail(failure, errno, "id-map layer " + dir);
  }
  if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, dir.c_str(), kMoveMountFromEmptyPath) !=
      0) {
    return Fail(failure, errno, "attach id-mapped layer " + dir);
  }
  return true;
}

// The fallback where the layer's file system cannot id-map (EINVAL: tmpfs before 6.3): a
// copy of the layer owned by the mapped ids, made once per container under a temporary name
// and renamed, so an existing copy is complete.
bool MakeShiftedLayer(const std::string& layer, const std::string& copy,
                      const MonitorConfig& config, StartReport* failure) {
  if (access(copy.c_str(), F_OK) == 0) return true;
  const std::string temp = copy + ".tmp";
  std::string error;
  if (!CopyShifted(layer, temp, config.userns_host_id, config.userns_size, &error)) {
    return Fail(failure, errno, "copy layer with shifted owners: " + error);
  }
  if (rename(temp.c_str(), copy.c_str()) != 0) return Fail(failure, errno, "rename " + temp);
  return true;
}

}  // namespace

bool EnterPrivateMountNamespace(UniqueFd* host_ns, StartReport* failure) {
  host_ns->Reset(open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!host_ns->valid()) return Fail(failure, errno, "open /proc/self/ns/mnt");
  if (unshare(CLONE_NEWNS) != 0) return Fail(failure, errno, "unshare monitor mount namespace");
  // Nothing mounted from here on may propagate back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Fail(failure, errno, "make monitor mounts private");
  }
  return true;
}

void LeavePrivateMountNamespace(UniqueFd host_ns) {
  if (host_ns.valid()) (void)setns(host_ns.get(), CLONE_NEWNS);
}

bool DelegateCgroup(const MonitorConfig& config, StartReport* failure) {
  if (config.cgroup_v2_dir.empty()) return true;
  const uid_t root = config.userns_host_id;
  for (const char* name : {"", "/cgroup.procs", "/cgroup.threads", "/cgroup.subtree_control"}) {
    const std::string path = config.cgroup_v2_dir + name;
    if (chown(path.c_str(), root, root) != 0 && errno != ENOENT) {
      return Fail(failure, errno, "delegate cgroup " + path);
    }
  }
  return true;
}

bool WriteIdMaps(pid_t pid, const MonitorConfig& config, StartReport* failure) {
  const std::string line = "0 " + std::to_string(config.userns_host_id) + " " +
                           std::to_string(config.userns_size) + "\n";
  const std::string proc = "/proc/" + std::to_string(pid);
  return WriteMap(proc + "/uid_map", line, failure) && WriteMap(proc + "/gid_map", line, failure);
}

bool MountIdMappedRootfs(const MonitorConfig& config, pid_t init_pid, StartReport* failure) {
  const std::string userns_path = "/proc/" + std::to_string(init_pid) + "/ns/user";
  UniqueFd userns(open(userns_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!userns.valid()) return Fail(failure, errno, "open " + userns_path);
  MonitorConfig overlay = config;
  for (size_t i = 0; i < config.lower_dirs.size(); ++i) {
    if (MountIdMappedLayer(config.lower_dirs[i], userns.get(), failure)) continue;
    if (failure->error != EINVAL) return false;
    overlay.lower_dirs[i] = config.bundle_dir + "/layer-" + std::to_string(i);
    if (!MakeShiftedLayer(config.lower_dirs[i], overlay.lower_dirs[i], config, failure)) {
      return false;
    }
  }
  // The overlay's root directory takes its owner from the upper directory's.
  const uid_t root = config.userns_host_id;
  if (chown(config.upper_dir.c_str(), root, root) != 0) {
    return Fail(failure, errno, "chown " + config.upper_dir);
  }
  return MountRootfsOverlay(overlay, failure);
}

bool EnterOwnMountNamespace(StartReport* failure) {
  if (unshare(CLONE_NEWNS) != 0) return Fail(failure, errno, "unshare mount namespace");
  return true;
}

bool BecomeNamespaceRoot(StartReport* failure) {
  if (setresgid(0, 0, 0) != 0) return Fail(failure, errno, "setresgid 0");
  if (setgroups(0, nullptr) != 0) return Fail(failure, errno, "setgroups");
  if (setresuid(0, 0, 0) != 0) return Fail(failure, errno, "setresuid 0");
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  return true;
}

}  // namespace quilt
