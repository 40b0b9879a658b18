#include "quiltd/copy/detached_overlay.h"

#include <sys/mount.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/overlay_volatile.h"
#include "common/status_macros.h"

namespace quilt {

absl::StatusOr<UniqueFd> MountDetachedOverlay(const std::vector<std::string>& lower_dirs,
                                              const std::string& upper_dir,
                                              const std::string& work_dir) {
  if (!ClearOverlayVolatileMarker(work_dir)) {
    return ErrnoStatus(absl::StrCat("mount overlay: clear the volatile marker in ", work_dir));
  }
  UniqueFd context(::fsopen("overlay", FSOPEN_CLOEXEC));
  if (!context.valid()) return ErrnoStatus("mount overlay: fsopen");
  const std::string lower = absl::StrJoin(lower_dirs, ":");
  for (const auto& [key, value] : {std::pair{"lowerdir", lower.c_str()},
                                   {"upperdir", upper_dir.c_str()},
                                   {"workdir", work_dir.c_str()}}) {
    if (::fsconfig(context.get(), FSCONFIG_SET_STRING, key, value, 0) != 0) {
      return ErrnoStatus(absl::StrCat("mount overlay: set ", key, "=", value));
    }
  }
  // Kernels before 5.10 know no "volatile" (EINVAL) and then sync at the unmount.
  if (::fsconfig(context.get(), FSCONFIG_SET_FLAG, kOverlayVolatileOption, nullptr, 0) != 0 &&
      errno != EINVAL) {
    return ErrnoStatus(absl::StrCat("mount overlay: set ", kOverlayVolatileOption));
  }
  if (::fsconfig(context.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    return ErrnoStatus(absl::StrCat("mount overlay on ", upper_dir));
  }
  UniqueFd mount(::fsmount(context.get(), FSMOUNT_CLOEXEC, 0));
  if (!mount.valid()) return ErrnoStatus("mount overlay: fsmount");
  return mount;
}

}  // namespace quilt
