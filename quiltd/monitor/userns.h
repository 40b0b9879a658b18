// The user namespace of a container: container ids 0..size-1 are host ids host_id.., so
// root in the container is an unprivileged host user. Parent-side steps run in the monitor
// (host root); child-side steps in the freshly cloned init.
//
// Order (sync points on the control channel):
//   monitor: EnterPrivateMountNamespace, DelegateCgroup        (before clone)
//   monitor: clone3(NEWUSER|NEWPID|NEWUTS|NEWIPC[|NEWNET]), no NEWNS: the init shares the
//            monitor's private mount namespace for now
//   monitor: WriteIdMaps, MountIdMappedRootfs, send kParentReady, LeavePrivateMountNamespace
//   init:    EnterOwnMountNamespace (a copy owned by its user namespace, with the rootfs
//            already mounted), PrepareRootfs (opens the host paths it needs with host
//            root's ids), BecomeNamespaceRoot, the other sandbox steps, run
#pragma once

#include <sys/types.h>

#include "common/unique_fd.h"
#include "quiltd/monitor/monitor_config.h"
#include "quiltd/monitor/monitor_protocol.h"

namespace quilt {

// True when the config asks for a user namespace.
inline bool UsesUserNamespace(const MonitorConfig& config) { return config.userns_size > 0; }

// Parent side, before clone: moves the monitor into a private copy of its mount namespace
// so that the id-mapped layers and the overlay it mounts never show on the host; sets
// `host_ns` to the namespace to return to.
bool EnterPrivateMountNamespace(UniqueFd* host_ns, StartReport* failure);

// Parent side: returns to the namespace EnterPrivateMountNamespace left. The private one
// lives on only as long as the init still uses it.
void LeavePrivateMountNamespace(UniqueFd host_ns);

// Parent side, before clone: on cgroup v2, hands the container's cgroup directory and its
// cgroup.procs, cgroup.threads and cgroup.subtree_control to the container's root (as
// systemd delegation does), so the container can manage its own subtree. Nothing on v1.
bool DelegateCgroup(const MonitorConfig& config, StartReport* failure);

// Parent side: writes /proc/<pid>/uid_map and gid_map. setgroups stays allowed: the maps are
// written by a privileged parent, so the kernel does not need it denied, and the workload's
// setgroups needs it.
bool WriteIdMaps(pid_t pid, const MonitorConfig& config, StartReport* failure);

// Parent side: mounts the container's overlay at config.rootfs_dir in the monitor's private
// mount namespace, each lower layer an id-mapped mount through the init's user namespace
// (image files owned by host root appear owned by container root, without a copy) or, on a
// file system that cannot id-map, a copy of it in the bundle with shifted owners; the upper
// directory's root is given to container root so the container owns "/".
bool MountIdMappedRootfs(const MonitorConfig& config, pid_t init_pid, StartReport* failure);

// Child side, after kParentReady: a mount namespace of its own, owned by its user namespace.
bool EnterOwnMountNamespace(StartReport* failure);

// Child side, before its own mounts: the init's ids were host root's, unmapped in the
// namespace, and file systems mounted in the namespace (tmpfs, devpts) refuse to create
// files for unmapped ids (EOVERFLOW). Becomes container root (uid/gid 0, no supplementary
// groups), keeping its capabilities in the namespace. Re-arms the parent-death signal,
// which the kernel clears on an id change.
bool BecomeNamespaceRoot(StartReport* failure);

}  // namespace quilt
