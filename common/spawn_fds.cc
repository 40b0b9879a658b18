#include "common/spawn_fds.h"

#include <fcntl.h>

#include <algorithm>

#include "common/status_macros.h"

namespace quilt {

absl::Status AddFdPlacements(posix_spawn_file_actions_t* actions,
                             const std::vector<std::pair<int, int>>& placements,
                             std::vector<UniqueFd>* copies) {
  int above = 3;
  for (const auto& [fd, target] : placements) above = std::max(above, target + 1);
  for (const auto& [fd, target] : placements) {
    UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, above));
    if (!copy.valid()) return ErrnoStatus("copy an fd for a spawned process");
    posix_spawn_file_actions_adddup2(actions, copy.get(), target);
    copies->push_back(std::move(copy));
  }
  for (int std_fd = 0; std_fd < 3; ++std_fd) {
    const bool placed = std::any_of(placements.begin(), placements.end(),
                                    [std_fd](const auto& p) { return p.second == std_fd; });
    if (!placed) posix_spawn_file_actions_addopen(actions, std_fd, "/dev/null", O_RDWR, 0);
  }
#ifdef __GLIBC__
  // Anything a library opened without CLOEXEC stays behind too. (musl has no such action;
  // there the parent's own fds must all be CLOEXEC, as quiltd's are.)
  posix_spawn_file_actions_addclosefrom_np(actions, above);
#endif
  return absl::OkStatus();
}

}  // namespace quilt
