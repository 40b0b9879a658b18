// An overlay mounted nowhere: the new mount API's fsopen/fsconfig/fsmount give a mount that
// belongs to no mount namespace and is reachable only through the returned fd. quiltd can
// make one from any thread (no setns, no unshare: the kernel refuses those to a
// multithreaded process), nothing can leak into the host's mount table, and the mount goes
// away when the last fd to it is closed.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace quilt {

// Mounts overlayfs with `lower_dirs` (top first), `upper_dir` and `work_dir` and returns an
// O_PATH fd of its root. The caller must make sure no other overlay uses `upper_dir` at the
// same time. Fails with the errno's code ("mount overlay: ...").
absl::StatusOr<UniqueFd> MountDetachedOverlay(const std::vector<std::string>& lower_dirs,
                                              const std::string& upper_dir,
                                              const std::string& work_dir);

}  // namespace quilt
