#include "quiltd/daemon/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace quilt {
namespace {

absl::StatusOr<UniqueFd> Lock(const std::string& path, absl::string_view what) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return ErrnoStatus(absl::StrCat("open lock file ", path));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoStatus(absl::StrCat("lock ", path));
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
    const std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
    return absl::FailedPreconditionError(absl::StrCat("another quiltd (pid ",
                                                      absl::StripAsciiWhitespace(pid),
                                                      ") is using ", what, " (lock ", path, ")"));
  }
  const std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), pid.data(), pid.size(), 0) < 0) {
    return ErrnoStatus(absl::StrCat("write lock file ", path));
  }
  return fd;
}

}  // namespace

absl::StatusOr<InstanceLock> InstanceLock::Acquire(const std::string& state_dir,
                                                   const std::string& socket_path) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd state_lock,
                         Lock(state_dir + "/quiltd.lock", absl::StrCat("state dir ", state_dir)));
  QUILT_ASSIGN_OR_RETURN(UniqueFd socket_lock,
                         Lock(socket_path + ".lock", absl::StrCat("socket ", socket_path)));
  if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("remove stale socket ", socket_path));
  }
  return InstanceLock(std::move(state_lock), std::move(socket_lock));
}

}  // namespace quilt
