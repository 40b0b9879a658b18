"""crun and runc as peers: OCI bundles on the default rootfs, run through peer_helper."""

import json
import os
import subprocess
import sys

from quiltbench import common

RUNTIMES = ("crun", "runc")
SLOTS = 2  # parallel streams at most, one bundle (and cgroup) each


def available():
    """The peer runtimes installed on this host."""
    return [r for r in RUNTIMES if common.command_output(["which", r]) != "?"]


class Peers:
    """Prepares bundles and a helper in a private mount namespace; close() cleans up."""

    def __init__(self, work_dir, rootfs_tar, command):
        self.work_dir = os.path.join(work_dir, "peers")
        self.rootfs = os.path.join(self.work_dir, "rootfs")
        common.make_empty_dir(self.rootfs)
        subprocess.run(["tar", "-xf", rootfs_tar, "-C", self.rootfs], check=True)
        # Below our own memory cgroup (we may not create cgroups beside it); crun reads an
        # absolute cgroupsPath from each hierarchy's root, and makes the missing levels.
        memory = common.own_cgroups()["memory"].rstrip("/")
        self.cgroup_base = f"{memory}/quilt-bench-peers-{os.getpid()}"
        self.created_cgroups = self._missing_cgroup_dirs()
        self.bundles = [self._bundle(slot, command) for slot in range(SLOTS)]
        # One long-running container per runtime for the exec benchmark, each its own cgroup.
        self.sleeper_bundles = {
            r: self._bundle(f"sleeper-{r}", ["sleep", "3600"]) for r in RUNTIMES
        }
        self.helper = None

    def _missing_cgroup_dirs(self):
        """Every cgroup dir on the way to cgroup_base that does not exist yet: ours to remove."""
        missing = []
        parts = self.cgroup_base.strip("/").split("/")
        for ctrl in os.listdir("/sys/fs/cgroup"):
            for depth in range(1, len(parts) + 1):
                path = os.path.join("/sys/fs/cgroup", ctrl, *parts[:depth])
                if not os.path.exists(path):
                    missing.append(path)
        return missing

    def _bundle(self, slot, command):
        bundle = os.path.join(self.work_dir, f"bundle-{slot}")
        common.make_empty_dir(bundle)
        subprocess.run(["crun", "spec"], cwd=bundle, check=True)
        path = os.path.join(bundle, "config.json")
        with open(path) as f:
            config = json.load(f)
        config["root"]["path"] = self.rootfs
        config["process"]["terminal"] = False
        config["process"]["args"] = command
        config["linux"]["cgroupsPath"] = f"{self.cgroup_base}/slot-{slot}"
        with open(path, "w") as f:
            json.dump(config, f)
        return bundle

    def start(self):
        empty = os.path.join(self.work_dir, "empty")
        open(empty, "w").close()
        helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer_helper.py")
        self.helper = subprocess.Popen([
            "unshare", "--mount", "--propagation", "private", sys.executable, "-B", helper,
            ",".join(self.bundles), os.path.join(self.work_dir, "state"), empty
        ], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._reply()

    def _reply(self):
        line = self.helper.stdout.readline()
        if not line:
            raise RuntimeError("peer helper exited")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def _ask(self, request):
        self.helper.stdin.write(json.dumps(request) + "\n")
        self.helper.stdin.flush()
        return self._reply()

    def run(self, runtime, n=1):
        """Wall ns of n containers started one after another, each measured alone."""
        return self._ask({"op": "run", "runtime": runtime, "n": n})["ns"]

    def batch(self, runtime, n, parallel):
        """Wall ns of n containers over `parallel` back-to-back streams."""
        request = {"op": "batch", "runtime": runtime, "n": n, "parallel": parallel}
        return self._ask(request)["wall_ns"]

    def start_sleeper(self, runtime):
        """Starts a detached `sleep` container; returns its name (for exec and delete)."""
        return self._ask({"op": "detach", "runtime": runtime,
                          "bundle": self.sleeper_bundles[runtime]})["name"]

    def exec(self, runtime, name, n=1):
        """Wall ns of n `<runtime> exec NAME /bin/true`, one after another."""
        return self._ask({"op": "exec", "runtime": runtime, "name": name, "n": n})["ns"]

    def delete(self, runtime, name):
        self._ask({"op": "delete", "runtime": runtime, "name": name})

    def close(self):
        """Stops the helper and removes the cgroup levels the runtimes created."""
        if self.helper is not None:
            try:
                self.helper.stdin.close()
            except BrokenPipeError:
                pass  # the helper is gone already; wait() reaps it
            self.helper.wait()
            self.helper = None
        for path in sorted(self.created_cgroups, key=len, reverse=True):
            if os.path.isdir(path):
                common.remove_cgroup_tree(path)
