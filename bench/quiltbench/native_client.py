"""Drives quilt-bench-client (bench/client/): API calls timed in C++ on one open channel."""

import subprocess


class NativeClient:
    """One quilt-bench-client process; each call returns the call's own time in ns."""

    def __init__(self, path, socket_path):
        self.proc = subprocess.Popen([path, "--socket", socket_path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def _ask(self, words):
        self.proc.stdin.write(" ".join(words) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"quilt-bench-client ended (exit code {self.proc.wait()})")
        if line.startswith("error "):
            raise RuntimeError(f"quilt-bench-client {' '.join(words)}: {line[6:].strip()}")
        ns, exit_code = line.split()
        if int(exit_code) != 0:
            raise RuntimeError(f"quilt-bench-client {' '.join(words)}: exit code {exit_code}")
        return int(ns)

    def exec(self, ref, argv):
        """Exec of argv in the running container `ref`: start sent until the stream's end."""
        return self._ask(["exec", ref, *argv])

    def run(self, argv):
        """Create(start) until Wait returns; the Remove after it is not timed."""
        return self._ask(["run", *argv])

    def churn(self, clients, total, argv):
        """Wall time of `total` containers (Create(start), Wait, Remove each) spread over
        `clients` threads sharing the channel."""
        return self._ask(["churn", str(clients), str(total), *argv])

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
