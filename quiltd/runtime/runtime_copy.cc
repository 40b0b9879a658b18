// Runtime::OpenCopyRoot: where CopyTo and CopyFrom find a container's files.
#include <fcntl.h>

#include <memory>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "quiltd/copy/detached_overlay.h"
#include "quiltd/runtime/bundle.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

absl::StatusOr<CopyRoot> Runtime::OpenCopyRoot(const std::string& ref, bool write) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  v1::ContainerSpec spec;
  if (!spec.ParseFromString(record.spec)) {
    return absl::DataLossError(absl::StrCat("container ", record.id, ": corrupt spec"));
  }
  if (write && spec.read_only_rootfs()) {
    return absl::FailedPreconditionError(
        absl::StrCat("copy into ", record.id.substr(0, 12), ": its rootfs is read-only"));
  }
  if (record.state == ContainerState::kRunning) return OpenRunningRoot(record);
  return OpenStoppedRoot(record);
}

// /proc/<pid>/root is the init's root with the container's whole mount tree below it (its
// tmpfs and bind mounts included). The pid is checked through the pidfd after the open: if
// the init is still alive then, the pid was not reused for another process in between.
absl::StatusOr<CopyRoot> Runtime::OpenRunningRoot(const ContainerRecord& record) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd pidfd, InitPidfd(record, "copy"));
  const std::string path = absl::StrCat("/proc/", record.init_pid, "/root");
  UniqueFd root(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  const int open_error = errno;
  if (!root.valid() || !SignalPidfd(pidfd.get(), 0).ok()) {
    if (!root.valid() && open_error != ENOENT && open_error != ESRCH) {
      return ErrnoStatus(open_error, absl::StrCat("copy: open ", path));
    }
    return absl::FailedPreconditionError(
        absl::StrCat("copy ", record.id.substr(0, 12), ": container init is gone"));
  }
  return CopyRoot{record.id, nullptr, std::move(root)};
}

// A stopped container's overlay is mounted detached for copies alone, with the same layers
// the init mounts; concurrent copies of one container share that mount (two overlays on one
// upper dir must never be mounted at once). Bind mounts are not applied: their destinations
// show the rootfs beneath. The claim keeps Start (which mounts the same upper dir) and
// Remove away until the last copy is done.
absl::StatusOr<CopyRoot> Runtime::OpenStoppedRoot(const ContainerRecord& stale) {
  const std::string id = stale.id;
  std::shared_ptr<UniqueFd> mount;
  {
    absl::MutexLock lock(&copy_mounts_mu_);
    auto it = copy_mounts_.find(id);
    if (it != copy_mounts_.end()) mount = it->second.lock();
    if (mount == nullptr) {
      QUILT_RETURN_IF_ERROR(Claim(id));
      auto release = absl::MakeCleanup([this, &id] { Release(id); });
      QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Get(id));
      // Started between the lookup and the claim: the running root is the one to use.
      if (record.state == ContainerState::kRunning) return OpenRunningRoot(record);
      const Bundle bundle(ContainersDir(), id);
      QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> lower_dirs,
                             images_->LowerDirs(record.image_digest));
      QUILT_ASSIGN_OR_RETURN(UniqueFd root,
                             MountDetachedOverlay(lower_dirs, bundle.upper(), bundle.work()));
      std::move(release).Cancel();
      // Runs when the last copy drops the mount: unmount (close), forget, release.
      mount = std::shared_ptr<UniqueFd>(new UniqueFd(std::move(root)), [this, id](UniqueFd* fd) {
        delete fd;
        {
          absl::MutexLock forget(&copy_mounts_mu_);
          auto entry = copy_mounts_.find(id);
          if (entry != copy_mounts_.end() && entry->second.expired()) copy_mounts_.erase(entry);
        }
        Release(id);
      });
      copy_mounts_[id] = mount;
    }
  }
  // Outside the lock: if this was the last reference, dropping it takes the lock.
  UniqueFd fd(::fcntl(mount->get(), F_DUPFD_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoStatus(absl::StrCat("copy ", id.substr(0, 12), ": dup root"));
  return CopyRoot{id, std::move(mount), std::move(fd)};
}

}  // namespace quilt
