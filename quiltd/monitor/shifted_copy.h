// The fallback for image layers on file systems without id-mapped mounts (tmpfs before
// Linux 6.3): a copy of the layer whose owners are shifted into the container's range.
#pragma once

#include <cstdint>
#include <string>

namespace quilt {

// Copies the tree at `from` to `to` (created; its parent must exist), giving every entry
// owned by id n < `size` the owner `shift` + n (uids and gids alike; other ids are kept).
// Modes (setuid bits included), symlinks, device nodes, fifos and times are kept; hard
// links become separate copies and extended attributes are not copied. Never follows a
// symlink of the tree. Returns false with errno set and `error` naming the entry.
bool CopyShifted(const std::string& from, const std::string& to, uint32_t shift, uint32_t size,
                 std::string* error);

}  // namespace quilt
