// A running container's exec server: a small process that already lives in the container's
// cgroups, namespaces and root, and forks each Exec's command on request. An exec through it
// pays no cgroup attach (on v1 the write to cgroup.procs waits for an RCU grace period after
// an idle gap: 5-25 ms), no setns and no exec of a helper: its fork inherits all of it.
//
// `quilt-monitor exec-server <init_pid>` starts it, once per container, on the first Exec
// (a container that never sees an exec costs nothing). quiltd spawns the starter with:
//   fd 0  the container's config.json
//   fd 3  a pidfd of the container's init
//   fd 4  the status pipe: "ok" once the server is listening, or "error <errno> <message>"
// The starter, not dumpable, prepares the workload's hardening (on the host, like the
// helper), binds <bundle>/exec.sock (0600; any stale socket is replaced), joins the
// container as the exec helper does (exec_helper.h) and forks a child in the container's pid
// namespace, which forks the server and exits: the server's parent is then the container's
// init, and the kernel kills it with every other process of the container when the init
// exits. It does not depend on quiltd: a restarted quiltd connects to the same socket.
//
// The server (comm "quilt-exec") keeps a pair of forks of itself ready for the next request,
// so that neither a wakeup of the server nor a fork is on an exec's path: a waiter, and its
// child waiting in accept on the socket (exec_server_protocol.h), which becomes the command.
// When the child takes a connection it tells the server, which makes the next pair. A peer
// that is inside the container's pid namespace, or not the server's own user, is refused:
// only quiltd, outside, may ask (the socket's path is outside the container's view anyway,
// and the server is not dumpable, so its fds are closed to the container). The child takes
// the request's fds as the helper's fd numbers, allocates the terminal (tty), hands the
// waiter the status pipe, the lifeline and stderr, and becomes the command as the helper's
// child would (exec_helper.h, BecomeCommand); the waiter then does what the helper does
// (ReportCommand: wait, timeout, lifeline, status line). The workload's hardening is
// prepared once, on the host, by the starter (its seccomp filter comes compiled by quiltd),
// and applied to the server itself (no_new_privs, bounding set, filter:
// ExecHardening::ApplyToSelf), so each command inherits them and only sets its ids and
// capability sets. An idle pair dies with the server; a busy one finishes its exec.
#pragma once

#include <sys/types.h>

namespace quilt {

// Runs the starter; returns its exit code (0 once "ok" was written).
int RunExecServerStart(pid_t init_pid);

}  // namespace quilt
