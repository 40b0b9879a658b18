"""A private quiltd for the benchmark: its own socket, state dir and cgroup parent."""

import os
import signal
import time

from quiltbench import common
from quiltbench.api import Api


class Quiltd:
    """Owns one quiltd process started from a build dir; stop() undoes everything."""

    PRESTART = 2  # quiltd's default

    def __init__(self, build_dir, work_dir, stub_dir):
        self.quiltd = os.path.join(build_dir, "bin", "quiltd")
        self.cli_path = os.path.join(build_dir, "bin", "quilt-cli")
        self.monitor = os.path.join(build_dir, "bin", "quilt-monitor")
        self.bench_client = os.path.join(build_dir, "bin", "quilt-bench-client")
        self.image = os.path.join(build_dir, "images", "default-rootfs.tar")
        for path in (self.quiltd, self.cli_path, self.monitor, self.bench_client, self.image):
            if not os.path.exists(path):
                raise RuntimeError(f"find {path}: missing (build quiltd, quilt-cli, "
                                   "quilt-monitor, quilt-bench-client and default_image first)")
        self.work_dir = work_dir
        self.stub_dir = stub_dir
        self.socket = os.path.join(work_dir, "quilt.sock")
        self.state_dir = os.path.join(work_dir, "state")
        self.log = os.path.join(work_dir, "quiltd.log")
        self.cgroup_parent = f"quilt-bench-{os.getpid()}"
        self.pid = None
        self.api = None

    def start(self):
        """Starts quiltd and returns once it answers Version; returns the VersionResponse."""
        argv = [
            self.quiltd, "--socket", self.socket, "--state-dir", self.state_dir,
            "--cgroup-parent", self.cgroup_parent, "--log-level", "warning",
            "--default-image", self.image, "--monitor-path", self.monitor,
            "--prestart", str(self.PRESTART)
        ]
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_OPEN, 1, self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                    0o644), (os.POSIX_SPAWN_DUP2, 1, 2)]
        self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        self.api = Api(self.socket, self.stub_dir)
        return self.api.version()

    def exit_status(self):
        """None while quiltd runs, else how it ended ("exit code N" / "killed by signal N")."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        self.pid = None
        code = os.waitstatus_to_exitcode(status)
        return f"exit code {code}" if code >= 0 else f"killed by signal {-code}"

    def restart(self):
        """Starts a new quiltd on the same state after the old one died."""
        self.api.close()
        return self.start()

    def settle(self, timeout=1.0):
        """Waits (up to `timeout` s) until quiltd has no background work left: every spare
        (prestarted container, docs/architecture.md) replaced. Its making would otherwise
        run during the next contender's measurement, slowing that one down."""
        deadline = common.now_ns() + int(timeout * 1e9)
        while common.now_ns() < deadline:
            if self.ready_spares() >= self.PRESTART:
                return
            time.sleep(0.002)

    def ready_spares(self):
        """Spare monitors of this quiltd whose init already sits in the spare's cgroups."""
        ready = 0
        for pid in common.children_of(self.pid):
            if not common.cmdline(pid).startswith(b"quilt-monitor\0spare\0"):
                continue
            inits = common.children_of(pid)
            if len(inits) == 1 and "/quilt-spare-" in common.read_text(f"/proc/{inits[0]}/cgroup"):
                ready += 1
        return ready

    def cli(self, *args):
        """argv of a quilt-cli call against this daemon."""
        return [self.cli_path, "--socket", self.socket, *args]

    def rss_kib(self):
        return common.rss_kib(self.pid)

    def remove_all(self):
        """Force-removes every container the daemon knows."""
        listed = self.api.containers.List(self.api.pb.ListRequest(all=True))
        for c in listed.containers:
            self.api.remove(c.id, force=True)

    def stop(self):
        """Removes all containers, stops quiltd (SIGTERM) and deletes its cgroup parents."""
        if self.pid is None:
            return
        # A daemon that died may have left monitors running: a new one adopts them first.
        if self.exit_status() is not None:
            self.restart()
        try:
            self.remove_all()
        finally:
            # Our open channel would hold the daemon's graceful shutdown to its deadline.
            self.api.close()
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
            self.pid = None
            for ctrl, path in common.own_cgroups().items():
                common.remove_cgroup_tree(f"/sys/fs/cgroup/{ctrl}{path}/{self.cgroup_parent}")

    def log_tail(self, lines=20):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""
