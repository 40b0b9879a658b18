"""One gRPC client of the throughput benchmark, run as its own process (no shared GIL).

Usage: worker.py SOCKET STUB_DIR COUNT. Connects, prints "ready", waits for a line on
stdin, then runs COUNT containers of /bin/true one after another (Create with start, Wait,
Remove) and prints {"start_ns", "end_ns"} on CLOCK_MONOTONIC, which all processes share.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from quiltbench import common  # noqa: E402
from quiltbench.api import Api  # noqa: E402


def main():
    socket_path, stub_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    api = Api(socket_path, stub_dir)
    api.version()
    print("ready", flush=True)
    sys.stdin.readline()
    start = common.now_ns()
    for _ in range(count):
        exited = api.run(["/bin/true"])
        if exited.exit_code != 0:
            raise RuntimeError(f"container {exited.id}: exit code {exited.exit_code}")
        api.remove(exited.id)
    print(json.dumps({"start_ns": start, "end_ns": common.now_ns()}), flush=True)
    api.close()


if __name__ == "__main__":
    main()
