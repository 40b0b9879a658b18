"""Runs crun/runc on request inside a private mount namespace (started under `unshare`).

crun 1.8 refuses hybrid hosts while /sys/fs/cgroup/unified/cgroup.controllers lists a
controller, so this process hides it with an empty file once, in its own mount namespace,
and then launches every peer container from there: no per-run wrapper cost to subtract.

Protocol: one JSON request per stdin line, one JSON reply per stdout line:
  {"op": "run", "runtime": "crun", "n": 5}             -> {"ns": [...]} per container
  {"op": "batch", "runtime": "crun", "n": 100, "parallel": 2} -> {"wall_ns": ...}
  {"op": "detach", "runtime": "crun", "bundle": DIR}    -> {"name": ...} (runs detached)
  {"op": "exec", "runtime": "crun", "name": N, "n": 5}  -> {"ns": [...]} per `exec /bin/true`
  {"op": "delete", "runtime": "crun", "name": N}        -> {}
"""

import json
import os
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from quiltbench import common  # noqa: E402

CONTROLLERS_FILE = "/sys/fs/cgroup/unified/cgroup.controllers"


class Launcher:
    """Starts peer containers from prepared bundles, one bundle per parallel slot."""

    def __init__(self, bundles, state_dir):
        self.bundles = bundles
        self.state_dir = state_dir
        self.paths = {r: shutil.which(r) for r in ("crun", "runc")}
        self.counter = 0
        self.lock = threading.Lock()

    def new_name(self):
        with self.lock:
            self.counter += 1
            return f"qb-{os.getpid()}-{self.counter}"

    def base(self, runtime):
        return [self.paths[runtime], "--root", os.path.join(self.state_dir, runtime)]

    def argv(self, runtime, slot):
        return self.base(runtime) + ["run", "--bundle", self.bundles[slot], self.new_name()]

    def detach(self, runtime, bundle):
        """Starts a container in the background (stdio on /dev/null); returns its name."""
        name = self.new_name()
        common.check_run(self.base(runtime) + ["run", "--detach", "--bundle", bundle, name])
        return name

    def exec(self, runtime, name):
        """One `exec NAME /bin/true` to its end; returns its wall time in ns."""
        return common.check_run(self.base(runtime) + ["exec", name, "/bin/true"])

    def delete(self, runtime, name):
        common.check_run(self.base(runtime) + ["delete", "--force", name])

    def run(self, runtime, slot=0):
        """One container start-to-exit; returns its wall time in ns."""
        return common.check_run(self.argv(runtime, slot))

    def batch(self, runtime, n, parallel):
        """n containers over `parallel` back-to-back streams; returns the wall time in ns."""
        errors = []

        def stream(slot, count):
            try:
                for _ in range(count):
                    self.run(runtime, slot)
            except RuntimeError as e:
                errors.append(str(e))

        per_slot = [n // parallel + (1 if i < n % parallel else 0) for i in range(parallel)]
        threads = [threading.Thread(target=stream, args=(i, c)) for i, c in enumerate(per_slot)]
        start = common.now_ns()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise RuntimeError(errors[0])
        return common.now_ns() - start


def main():
    bundles = sys.argv[1].split(",")
    state_dir, empty_file = sys.argv[2], sys.argv[3]
    if os.path.exists(CONTROLLERS_FILE):
        subprocess.run(["mount", "--bind", empty_file, CONTROLLERS_FILE], check=True)
    launcher = Launcher(bundles, state_dir)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            runtime = request["runtime"]
            if request["op"] == "run":
                reply = {"ns": [launcher.run(runtime) for _ in range(request["n"])]}
            elif request["op"] == "detach":
                reply = {"name": launcher.detach(runtime, request["bundle"])}
            elif request["op"] == "exec":
                reply = {"ns": [launcher.exec(runtime, request["name"]) for _ in range(request["n"])]}
            elif request["op"] == "delete":
                launcher.delete(runtime, request["name"])
                reply = {}
            else:
                reply = {
                    "wall_ns":
                        launcher.batch(request["runtime"], request["n"], request["parallel"])
                }
        except RuntimeError as e:
            reply = {"error": str(e)}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
