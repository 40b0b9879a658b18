#include "quiltd/monitor/sandbox.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "common/overlay_volatile.h"
#include "common/unique_fd.h"
#include "quiltd/monitor/channel.h"
#include "quiltd/monitor/userns.h"

namespace quilt {
namespace {

// mount_setattr(2) pieces; glibc 2.36's <sys/mount.h> and <linux/mount.h> clash, so the
// ABI values are spelled out here.
struct MountAttr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};
constexpr uint64_t kMountAttrReadOnly = 0x00000001;
// move_mount(2) flags (<linux/mount.h>, same clash): both sides given as fds.
constexpr unsigned int kMoveMountFromEmptyPath = 0x00000004;
constexpr unsigned int kMoveMountToEmptyPath = 0x00000040;

bool Fail(StartReport* failure, StartStage stage, int error, const std::string& detail) {
  SetStartFailure(failure, stage, error, detail.c_str());
  return false;
}

bool FailMount(StartReport* failure, const std::string& detail) {
  return Fail(failure, StartStage::kMounts, errno, detail);
}

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

UniqueFd OpenResolvedInRoot(int root_fd, const std::string& path, uint64_t flags) {
  open_how how{};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT;
  return UniqueFd(static_cast<int>(syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof(how))));
}

// Opens `path` inside the rootfs as an O_PATH fd, creating missing directories (and, for a
// file target, an empty file). RESOLVE_IN_ROOT makes ".." and absolute symlinks in the image
// resolve against the rootfs, so an image cannot point a mount target at the host; each
// component is created with mkdirat on its already-resolved parent for the same reason.
UniqueFd OpenMountTarget(int root_fd, const std::string& path, bool directory) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  UniqueFd parent(dup(root_fd));
  std::string prefix;
  for (size_t i = 0; i < parts.size() && parent.valid(); ++i) {
    prefix += "/" + parts[i];
    bool is_dir = directory || i + 1 < parts.size();
    uint64_t flags = O_PATH | (is_dir ? O_DIRECTORY : 0);
    UniqueFd next = OpenResolvedInRoot(root_fd, prefix, flags);
    if (!next.valid() && errno == ENOENT) {
      if (is_dir) {
        if (mkdirat(parent.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) return {};
      } else {
        UniqueFd created(openat(parent.get(), parts[i].c_str(),
                                O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!created.valid() && errno != EEXIST) return {};
      }
      next = OpenResolvedInRoot(root_fd, prefix, flags);
    }
    parent = std::move(next);
  }
  return parent;
}

// Mounts onto `target` (a path inside the rootfs) through its resolved fd.
bool MountInRoot(int root_fd, const char* source, const std::string& target, const char* fstype,
                 unsigned long flags, const char* data, bool directory, StartReport* failure) {
  UniqueFd fd = OpenMountTarget(root_fd, target, directory);
  if (!fd.valid()) return FailMount(failure, "create mount point " + target);
  if (mount(source, FdPath(fd.get()).c_str(), fstype, flags, data) != 0) {
    return FailMount(failure, "mount " + target);
  }
  return true;
}

// Step a: nothing we mount may propagate back to the host's mount namespace.
bool MakeMountsPrivate(StartReport* failure) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return FailMount(failure, "make / private");
  }
  return true;
}

// /dev/shm is a tmpfs of kDefaultShmBytes (a spare stages it before it knows its
// container); ResizeShm gives it the container's size.
const std::string& ShmMountData() {
  static const std::string data = "mode=1777,size=" + std::to_string(kDefaultShmBytes);
  return data;
}

bool ResizeShm(int root_fd, int64_t bytes, StartReport* failure) {
  if (bytes == 0 || bytes == kDefaultShmBytes) return true;
  UniqueFd shm = OpenResolvedInRoot(root_fd, "/dev/shm", O_PATH | O_DIRECTORY);
  const std::string data = "size=" + std::to_string(bytes);
  if (!shm.valid() || mount(nullptr, FdPath(shm.get()).c_str(), nullptr,
                            MS_REMOUNT | MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    return FailMount(failure, "resize /dev/shm");
  }
  return true;
}

bool PopulateDev(int root_fd, StartReport* failure) {
  for (const char* name : {"null", "zero", "full", "random", "urandom", "tty"}) {
    std::string host = std::string("/dev/") + name;
    if (!MountInRoot(root_fd, host.c_str(), host, nullptr, MS_BIND, nullptr, false, failure)) {
      return false;
    }
  }
  if (!MountInRoot(root_fd, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
                   "newinstance,ptmxmode=0666,mode=620,gid=5", true, failure) ||
      !MountInRoot(root_fd, "shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
                   ShmMountData().c_str(), true, failure)) {
    return false;
  }
  UniqueFd dev = OpenMountTarget(root_fd, "/dev", true);
  if (!dev.valid()) return FailMount(failure, "open /dev");
  const char* links[][2] = {{"pts/ptmx", "ptmx"},
                            {"/proc/self/fd", "fd"},
                            {"/proc/self/fd/0", "stdin"},
                            {"/proc/self/fd/1", "stdout"},
                            {"/proc/self/fd/2", "stderr"}};
  for (const auto& link : links) {
    if (symlinkat(link[0], dev.get(), link[1]) != 0) {
      return FailMount(failure, std::string("symlink /dev/") + link[1]);
    }
  }
  return true;
}

// A read-only recursive bind of the host's /sys, for when sysfs cannot be mounted (sysfs
// checks the caller's network namespace). mount_setattr(AT_RECURSIVE) also makes the
// submounts (/sys/fs/cgroup/...) read-only, which a MS_REMOUNT would not.
bool BindSysReadOnly(int root_fd, StartReport* failure) {
  if (!MountInRoot(root_fd, "/sys", "/sys", nullptr, MS_BIND | MS_REC, nullptr, true, failure)) {
    return false;
  }
  UniqueFd sys = OpenMountTarget(root_fd, "/sys", true);
  MountAttr attr{kMountAttrReadOnly, 0, 0, 0};
  if (!sys.valid() || syscall(SYS_mount_setattr, sys.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                              sizeof(attr)) != 0) {
    return FailMount(failure, "remount /sys read-only");
  }
  return true;
}

// Step c: the kernel file systems.
bool MountSpecialFileSystems(int root_fd, StartReport* failure) {
  if (!MountInRoot(root_fd, "proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, nullptr,
                   true, failure) ||
      !MountInRoot(root_fd, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k",
                   true, failure) ||
      !PopulateDev(root_fd, failure)) {
    return false;
  }
  StartReport sysfs_failure;
  if (MountInRoot(root_fd, "sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  nullptr, true, &sysfs_failure)) {
    return true;
  }
  if (sysfs_failure.error != EPERM) {
    *failure = sysfs_failure;
    return false;
  }
  return BindSysReadOnly(root_fd, failure);
}

// Kernel files that leak host state or let a root process act on the host: physical memory
// (kcore), key names of every user (keys), scheduler and timer internals, firmware tables.
// Files are covered with /dev/null, directories with an empty read-only tmpfs.
constexpr const char* kMaskedPaths[] = {"/proc/acpi",        "/proc/kcore",
                                        "/proc/keys",        "/proc/latency_stats",
                                        "/proc/timer_list",  "/proc/timer_stats",
                                        "/proc/sched_debug", "/proc/scsi",
                                        "/sys/firmware",     "/sys/devices/virtual/powercap"};
// Writable /proc files that change the host kernel (sysctls, IRQ affinity, sysrq): made
// read-only, recursively.
constexpr const char* kReadOnlyPaths[] = {"/proc/asound", "/proc/bus", "/proc/fs",
                                          "/proc/irq",    "/proc/sys", "/proc/sysrq-trigger"};

// Opens a kernel path inside the rootfs for masking; an invalid fd with errno ENOENT means the
// kernel has no such file, which is nothing to mask.
UniqueFd OpenKernelPath(int root_fd, const std::string& path) {
  return OpenResolvedInRoot(root_fd, path, O_PATH | O_NOFOLLOW);
}

bool MaskPath(int root_fd, const std::string& path, StartReport* failure) {
  UniqueFd fd = OpenKernelPath(root_fd, path);
  if (!fd.valid()) return errno == ENOENT || FailMount(failure, "open " + path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return FailMount(failure, "stat " + path);
  const int rc = S_ISDIR(st.st_mode)
                     ? mount("tmpfs", FdPath(fd.get()).c_str(), "tmpfs",
                             MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=555")
                     : mount("/dev/null", FdPath(fd.get()).c_str(), nullptr, MS_BIND, nullptr);
  if (rc != 0) return FailMount(failure, "mask " + path);
  return true;
}

// A recursive bind onto itself, then read-only with mount_setattr(AT_RECURSIVE), which
// (unlike a MS_REMOUNT) also covers mounts below the path.
bool MakePathReadOnly(int root_fd, const std::string& path, StartReport* failure) {
  UniqueFd fd = OpenKernelPath(root_fd, path);
  if (!fd.valid()) return errno == ENOENT || FailMount(failure, "open " + path);
  const std::string fd_path = FdPath(fd.get());
  if (mount(fd_path.c_str(), fd_path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return FailMount(failure, "bind " + path);
  }
  // Reopen: the fd used for the bind names the file under the new mount, not the mount.
  fd = OpenKernelPath(root_fd, path);
  MountAttr attr{kMountAttrReadOnly, 0, 0, 0};
  if (!fd.valid() || syscall(SYS_mount_setattr, fd.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                             sizeof(attr)) != 0) {
    return FailMount(failure, "remount " + path + " read-only");
  }
  return true;
}

// After the bind mounts, so that no bind can uncover a masked path.
bool ProtectKernelPaths(int root_fd, StartReport* failure) {
  for (const char* path : kMaskedPaths) {
    if (!MaskPath(root_fd, path, failure)) return false;
  }
  for (const char* path : kReadOnlyPaths) {
    if (!MakePathReadOnly(root_fd, path, failure)) return false;
  }
  return true;
}

// Whether `fd` is a directory on a file system of type `magic`.
bool IsDirectoryOn(int fd, int64_t magic) {
  struct statfs fs {};
  struct stat st {};
  return fstatfs(fd, &fs) == 0 && static_cast<int64_t>(fs.f_type) == magic && fstat(fd, &st) == 0 &&
         S_ISDIR(st.st_mode);
}

// What was opened after staging is the staged mounts, not what the stage's directory held
// before. (An fd keeps naming its mount: at the claim only moving it can fail.)
bool StagedTreesOpened(const StagedTrees& staged) {
  return staged.valid() && IsDirectoryOn(staged.proc.get(), PROC_SUPER_MAGIC) &&
         IsDirectoryOn(staged.dev.get(), TMPFS_MAGIC) &&
         IsDirectoryOn(staged.sys.get(), SYSFS_MAGIC);
}

// Step c for a prestarted init: the staged trees, with everything below them, moved onto
// their places in the rootfs by their fds, never by a path that may name something else by
// now. A tree no longer mounted where it was staged (its stage removed meanwhile) cannot be
// moved (EINVAL). Returns false with *moved_any telling whether the rootfs changed.
bool MoveStagedTrees(int root_fd, const StagedTrees& staged, bool* moved_any,
                     StartReport* failure) {
  *moved_any = false;
  const std::pair<const UniqueFd*, const char*> trees[] = {
      {&staged.proc, "/proc"}, {&staged.dev, "/dev"}, {&staged.sys, "/sys"}};
  for (const auto& [tree, path] : trees) {
    UniqueFd target = OpenMountTarget(root_fd, path, true);
    if (!target.valid()) return FailMount(failure, std::string("create mount point ") + path);
    if (syscall(SYS_move_mount, tree->get(), "", target.get(), "",
                kMoveMountFromEmptyPath | kMoveMountToEmptyPath) != 0) {
      return FailMount(failure, std::string("move the staged ") + path);
    }
    *moved_any = true;
  }
  return true;
}

// Step d: a read-only bind keeps the source mount's nosuid/nodev/noexec, since a remount
// that would drop a locked flag fails with EPERM. The source was opened beforehand.
bool MountBind(int root_fd, const BindMount& bind, int source_fd, StartReport* failure) {
  struct stat st {};
  if (fstat(source_fd, &st) != 0) return FailMount(failure, "stat " + bind.source);
  bool directory = S_ISDIR(st.st_mode);
  if (!MountInRoot(root_fd, FdPath(source_fd).c_str(), bind.destination, nullptr, MS_BIND | MS_REC,
                   nullptr, directory, failure)) {
    return false;
  }
  if (!bind.read_only) return true;
  struct statvfs vfs {};
  if (fstatvfs(source_fd, &vfs) != 0) return FailMount(failure, "statvfs " + bind.source);
  unsigned long flags = MS_REMOUNT | MS_BIND | MS_RDONLY;
  if (vfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
  if (vfs.f_flag & ST_NODEV) flags |= MS_NODEV;
  if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
  // Reopen: the fd used for the bind names the directory under the new mount, not the mount.
  return MountInRoot(root_fd, nullptr, bind.destination, nullptr, flags, nullptr, directory,
                     failure);
}

bool MountTmpfs(int root_fd, const TmpfsMount& tmpfs, StartReport* failure) {
  char data[64];
  snprintf(data, sizeof(data), "mode=%o,size=%lld", tmpfs.mode,
           static_cast<long long>(tmpfs.size_bytes));
  const unsigned long flags = MS_NOSUID | MS_NODEV | (tmpfs.exec ? 0 : MS_NOEXEC);
  return MountInRoot(root_fd, "tmpfs", tmpfs.destination, "tmpfs", flags, data, true, failure);
}

size_t PathDepth(const std::string& path) {
  size_t depth = 0;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '/' && (i == 0 || path[i - 1] == '/')) ++depth;
  }
  return depth;
}

// Step d: bind and tmpfs mounts, parents first, or a mount listed before the one over its
// parent directory would be hidden under it. Mounts of the same depth keep their order.
bool MountVolumes(int root_fd, const MonitorConfig& config, const SandboxSources& sources,
                  StartReport* failure) {
  struct Volume {
    size_t depth;
    const TmpfsMount* tmpfs;  // else the bind at `index`
    size_t index;
  };
  std::vector<Volume> volumes;
  for (size_t i = 0; i < config.mounts.size(); ++i) {
    volumes.push_back({PathDepth(config.mounts[i].destination), nullptr, i});
  }
  for (const TmpfsMount& tmpfs : config.tmpfs) {
    volumes.push_back({PathDepth(tmpfs.destination), &tmpfs, 0});
  }
  std::stable_sort(volumes.begin(), volumes.end(),
                   [](const Volume& a, const Volume& b) { return a.depth < b.depth; });
  for (const Volume& volume : volumes) {
    const bool mounted = volume.tmpfs != nullptr
                             ? MountTmpfs(root_fd, *volume.tmpfs, failure)
                             : MountBind(root_fd, config.mounts[volume.index],
                                         sources.binds[volume.index].get(), failure);
    if (!mounted) return false;
  }
  return true;
}

// Step f.
bool SetIdentity(const MonitorConfig& config, StartReport* failure) {
  if (!config.hostname.empty() &&
      sethostname(config.hostname.data(), config.hostname.size()) != 0) {
    return Fail(failure, StartStage::kIdentity, errno, "sethostname " + config.hostname);
  }
  return !config.new_network || BringUpLoopback(failure);
}

// Step g: pivot_root(".", ".") stacks the old root on top of the new one; detaching "."
// then removes the old root without needing a directory for it inside the image.
bool PivotRoot(int root_fd, const std::string& rootfs, StartReport* failure) {
  if (fchdir(root_fd) != 0) {
    return Fail(failure, StartStage::kPivotRoot, errno, "chdir " + rootfs);
  }
  if (syscall(SYS_pivot_root, ".", ".") != 0) {
    return Fail(failure, StartStage::kPivotRoot, errno, "pivot_root " + rootfs);
  }
  if (umount2(".", MNT_DETACH) != 0) {
    return Fail(failure, StartStage::kPivotRoot, errno, "detach old root");
  }
  if (chdir("/") != 0) return Fail(failure, StartStage::kPivotRoot, errno, "chdir /");
  return true;
}

}  // namespace

bool BringUpLoopback(StartReport* failure) {
  UniqueFd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq request{};
  snprintf(request.ifr_name, sizeof(request.ifr_name), "lo");
  if (!sock.valid() || ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0) {
    return Fail(failure, StartStage::kIdentity, errno, "get flags of lo");
  }
  request.ifr_flags |= IFF_UP;
  if (ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0) {
    return Fail(failure, StartStage::kIdentity, errno, "bring up lo");
  }
  return true;
}

// Step b: the overlay lives only in this mount namespace (or, with a user namespace, in the
// monitor's private one and the init's copy of it), so it vanishes with the container.
bool MountRootfsOverlay(const MonitorConfig& config, StartReport* failure) {
  std::string options = "lowerdir=";
  for (size_t i = 0; i < config.lower_dirs.size(); ++i) {
    if (i > 0) options += ':';
    options += config.lower_dirs[i];
  }
  options += ",upperdir=" + config.upper_dir + ",workdir=" + config.work_dir;
  if (!ClearOverlayVolatileMarker(config.work_dir)) {
    return FailMount(failure, "clear the volatile marker in " + config.work_dir);
  }
  const std::string volatile_options = options + "," + kOverlayVolatileOption;
  if (mount("overlay", config.rootfs_dir.c_str(), "overlay", 0, volatile_options.c_str()) == 0) {
    return true;
  }
  // Kernels before 5.10 know no "volatile": such a host syncs at every container's end.
  if (errno == EINVAL &&
      mount("overlay", config.rootfs_dir.c_str(), "overlay", 0, options.c_str()) == 0) {
    return true;
  }
  return FailMount(failure, "mount overlay on " + config.rootfs_dir);
}

bool PrepareRootfs(const MonitorConfig& config, SandboxSources* sources, StartReport* failure) {
  if (!MakeMountsPrivate(failure)) return false;
  if (UsesUserNamespace(config)) {
    // The overlay came with the namespace's copy of the monitor's mounts, so it is locked
    // here, and pivot_root refuses a locked new root (EINVAL): a bind of it onto itself,
    // made in this namespace, is not.
    if (mount(config.rootfs_dir.c_str(), config.rootfs_dir.c_str(), nullptr, MS_BIND | MS_REC,
              nullptr) != 0) {
      return FailMount(failure, "bind " + config.rootfs_dir);
    }
  } else if (!MountRootfsOverlay(config, failure)) {
    return false;
  }
  // Opened after the overlay mount (or its bind) so that it is its root.
  sources->root.Reset(open(config.rootfs_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!sources->root.valid()) return FailMount(failure, "open " + config.rootfs_dir);
  for (const BindMount& bind : config.mounts) {
    UniqueFd source(open(bind.source.c_str(), O_PATH | O_CLOEXEC));
    if (!source.valid()) return FailMount(failure, "open " + bind.source);
    sources->binds.push_back(std::move(source));
  }
  return true;
}

bool StageKernelFileSystems(const std::string& stage_dir, StagedTrees* staged,
                            StartReport* failure) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    return FailMount(failure, "make / a slave");
  }
  // The directory is made, mounted on and reopened through its parent without following a
  // symlink: whatever `stage_dir` names, the tmpfs lands on that directory or nowhere.
  const size_t slash = stage_dir.rfind('/');
  const std::string parent_dir = slash == 0 ? "/" : stage_dir.substr(0, slash);
  const std::string name = stage_dir.substr(slash + 1);
  UniqueFd parent(open(parent_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!parent.valid()) return FailMount(failure, "open " + parent_dir);
  if (mkdirat(parent.get(), name.c_str(), 0700) != 0 && errno != EEXIST) {
    return FailMount(failure, "create " + stage_dir);
  }
  const int flags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd dir(openat(parent.get(), name.c_str(), flags));
  if (!dir.valid() || mount("tmpfs", FdPath(dir.get()).c_str(), "tmpfs",
                            MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=700,size=16k") != 0) {
    return FailMount(failure, "mount tmpfs on " + stage_dir);
  }
  UniqueFd stage(openat(parent.get(), name.c_str(), flags));
  if (!stage.valid() || !IsDirectoryOn(stage.get(), TMPFS_MAGIC)) {
    return FailMount(failure, "open " + stage_dir);
  }
  if (!MountSpecialFileSystems(stage.get(), failure) || !ProtectKernelPaths(stage.get(), failure)) {
    return false;
  }
  StagedTrees trees;
  trees.proc = OpenResolvedInRoot(stage.get(), "/proc", O_PATH | O_DIRECTORY);
  trees.dev = OpenResolvedInRoot(stage.get(), "/dev", O_PATH | O_DIRECTORY);
  trees.sys = OpenResolvedInRoot(stage.get(), "/sys", O_PATH | O_DIRECTORY);
  if (!StagedTreesOpened(trees)) return FailMount(failure, "open the staged trees");
  *staged = std::move(trees);
  return true;
}

bool SetUpSandbox(const MonitorConfig& config, SandboxSources sources, StartReport* failure) {
  const int root = sources.root.get();
  // A bind or tmpfs mount must come before the masks (it could cover one), so a container
  // with any mounts them all here; so does one whose staged trees are gone or were never
  // made.
  bool staged = config.mounts.empty() && config.tmpfs.empty() && sources.staged.valid();
  if (staged) {
    bool moved_any = false;
    if (!MoveStagedTrees(root, sources.staged, &moved_any, failure)) {
      if (moved_any) return false;
      staged = false;
    }
  }
  if (!staged) {
    if (!MountSpecialFileSystems(root, failure)) return false;
    if (!MountVolumes(root, config, sources, failure)) return false;
    if (!ProtectKernelPaths(root, failure)) return false;
  }
  if (!ResizeShm(root, config.shm_size_bytes, failure)) return false;
  // Step e, after the other mounts so they keep their own mode.
  if (config.read_only_rootfs && mount(nullptr, FdPath(root).c_str(), nullptr,
                                       MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    return FailMount(failure, "remount / read-only");
  }
  return SetIdentity(config, failure) && PivotRoot(root, config.rootfs_dir, failure);
}

}  // namespace quilt
