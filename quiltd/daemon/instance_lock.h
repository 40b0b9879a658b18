// Makes sure one quiltd owns a state dir and a socket path at a time.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace quilt {

class InstanceLock {
 public:
  // Takes an exclusive flock on <state_dir>/quiltd.lock and on <socket>.lock, writing our
  // pid into each. FAILED_PRECONDITION "another quiltd (pid N) is using ..." when held.
  // With both locks held, a socket file left by a crashed daemon is stale and is removed.
  static absl::StatusOr<InstanceLock> Acquire(const std::string& state_dir,
                                              const std::string& socket_path);

 private:
  InstanceLock(UniqueFd state_lock, UniqueFd socket_lock)
      : state_lock_(std::move(state_lock)), socket_lock_(std::move(socket_lock)) {}
  UniqueFd state_lock_;
  UniqueFd socket_lock_;
};

}  // namespace quilt
