#include "quiltd/copy/path_in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace quilt {
namespace {

// How often a resolution is retried when the kernel reports a concurrent rename (EAGAIN):
// a container renaming in a loop must not keep the copy busy for ever.
constexpr int kMaxAttempts = 64;

absl::StatusOr<UniqueFd> Openat2(int dir_fd, absl::string_view path, int flags, mode_t mode,
                                 uint64_t resolve) {
  const std::string text(path.empty() ? "." : path);
  open_how how{};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = resolve;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const long fd = ::syscall(SYS_openat2, dir_fd, text.c_str(), &how, sizeof(how));
    if (fd >= 0) return UniqueFd(static_cast<int>(fd));
    if (errno != EAGAIN && errno != EINTR) break;
  }
  // Callers look at errno to tell ENOENT or ELOOP apart: keep it past the status's making.
  const int error = errno;
  absl::Status status = ErrnoStatus(error, absl::StrCat("open ", text));
  errno = error;
  return status;
}

}  // namespace

absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, absl::string_view path, int flags, mode_t mode) {
  return Openat2(root_fd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
}

absl::StatusOr<UniqueFd> OpenBeneath(int dir_fd, absl::string_view path, int flags, mode_t mode) {
  return Openat2(dir_fd, path, flags, mode,
                 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

absl::StatusOr<std::vector<std::string>> SplitClean(absl::string_view path) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" has a \"..\""));
    }
    parts.emplace_back(part);
  }
  return parts;
}

}  // namespace quilt
