// Path resolution that can never leave a directory: openat2(2) with RESOLVE_IN_ROOT (the
// directory is "/" for absolute symlinks and "..") or RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
// (no symlink at all). Used on a container's root, whose symlinks the container controls.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace quilt {

// Opens `path` (absolute or relative, as seen from inside `root_fd`) with `flags`, following
// symlinks but resolving every one of them, and "..", inside `root_fd`. Magic links
// (/proc/<pid>/fd/...) are refused. Fails with the errno's code ("open <path>: ..."), errno
// left set for the caller.
absl::StatusOr<UniqueFd> OpenInRoot(int root_fd, absl::string_view path, int flags,
                                    mode_t mode = 0);

// Opens `path`, relative to `dir_fd`, with `flags`, refusing any symlink on the way
// (ELOOP), any "..", and any absolute path: the result is below `dir_fd`.
absl::StatusOr<UniqueFd> OpenBeneath(int dir_fd, absl::string_view path, int flags,
                                     mode_t mode = 0);

// The non-empty components of `path` other than "."; INVALID_ARGUMENT when one is "..".
absl::StatusOr<std::vector<std::string>> SplitClean(absl::string_view path);

}  // namespace quilt
