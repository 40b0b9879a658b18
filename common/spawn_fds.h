// Placing fds at fixed numbers in a posix_spawn'ed child.
#pragma once

#include <spawn.h>

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/unique_fd.h"

namespace quilt {

// Adds to `actions` the dup2s that give the child each `placements[i].first` as fd
// `placements[i].second`, /dev/null as any of fds 0-2 not placed (never the parent's own
// stdio), and with glibc the closing of every fd above the targets. The dup2 actions run in
// order, so a source sitting on an earlier action's target would be overwritten before it is
// copied: every source is first copied above all targets into `copies` (CLOEXEC), which must
// live until the spawn.
absl::Status AddFdPlacements(posix_spawn_file_actions_t* actions,
                             const std::vector<std::pair<int, int>>& placements,
                             std::vector<UniqueFd>* copies);

}  // namespace quilt
