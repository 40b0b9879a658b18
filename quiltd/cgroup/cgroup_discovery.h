// Reading the host's cgroup layout (libcgroup and /proc) and preparing a v2 parent cgroup.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quiltd/cgroup/cgroup_layout.h"

namespace quilt {

// Reads the facts ComputeCgroupLayout needs: mounted controllers (libcgroup), cgroup mounts
// (/proc/self/mountinfo), quiltd's own cgroups (/proc/self/cgroup) and the controllers the v2
// root offers. Calls cgroup_init() the first time; not safe to run concurrently with other
// libcgroup users.
absl::StatusOr<CgroupHostFacts> ReadCgroupHostFacts();

// Makes the v2 `hierarchy`'s parent cgroup usable for containers: creates it if missing and
// enables its controllers in cgroup.subtree_control of every cgroup from the root down to it.
// If quiltd itself sits in one of those cgroups, it first moves itself (only itself) into
// <that cgroup>/quiltd-daemon, as the "no internal processes" rule requires.
absl::Status PrepareV2Parent(const CgroupHierarchy& hierarchy);

}  // namespace quilt
