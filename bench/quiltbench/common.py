"""Timing, statistics, process and cgroup helpers shared by every benchmark."""

import math
import os
import shutil
import signal
import statistics
import sys
import subprocess
import time

MIB = 1024 * 1024
MB = 1000 * 1000


def now_ns():
    """CLOCK_MONOTONIC in ns: comparable across our processes, unlike perf_counter."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def spawn(argv, stdout=os.devnull, env=None):
    """Starts argv with stdin and stderr on /dev/null and stdout on `stdout`; returns the pid.

    posix_spawn keeps the launcher's own cost small and the same for every contender.
    SIGPIPE goes back to its default: Python ignores it, and a `yes | head` whose `yes`
    inherited that would spin on EPIPE forever."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    return os.posix_spawn(argv[0], argv, env if env is not None else os.environ,
                          file_actions=actions, setsigdef=[signal.SIGPIPE])


def timed_run(argv, stdout=os.devnull, env=None):
    """Runs argv to its end; returns (wall ns, exit code)."""
    start = now_ns()
    pid = spawn(argv, stdout, env)
    _, status = os.waitpid(pid, 0)
    return now_ns() - start, os.waitstatus_to_exitcode(status)


def check_run(argv, stdout=os.devnull, env=None):
    """timed_run that raises when the command fails; returns wall ns."""
    elapsed, code = timed_run(argv, stdout, env)
    if code != 0:
        raise RuntimeError(f"run {' '.join(argv)}: exit code {code}")
    return elapsed


def percentile(values, fraction):
    """Nearest-rank percentile of a non-empty list (p99 of 100 runs is the 99th value)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class Sample:
    """A named series of measurements of one quantity, in its natural unit."""

    def __init__(self, values, unit):
        if not values:
            raise ValueError("a sample needs at least one value")
        self.values = list(values)
        self.unit = unit

    @property
    def median(self):
        return statistics.median(self.values)

    @property
    def n(self):
        return len(self.values)


def ms(ns_values):
    """Converts ns durations to a Sample in ms."""
    return Sample([v / 1e6 for v in ns_values], "ms")


def read_kv(path):
    """Parses 'Key:   value kB' files (status, smaps_rollup, meminfo) into {key: int kB}."""
    result = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":")
            fields = rest.split()
            if fields and fields[0].isdigit():
                result[key.strip()] = int(fields[0])
    return result


def uss_kib(pid):
    """Unique set size: the private pages of a process, shared ones excluded."""
    roll = read_kv(f"/proc/{pid}/smaps_rollup")
    return roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0) + roll.get(
        "Private_Hugetlb", 0)


def rss_kib(pid):
    return read_kv(f"/proc/{pid}/status")["VmRSS"]


def ppid(pid):
    return read_kv(f"/proc/{pid}/status")["PPid"]


def read_text(path):
    """The file's text, or "" when it is gone (a process that ended)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def cmdline(pid):
    """The raw /proc/<pid>/cmdline (NUL-separated), or b"" when the process is gone."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def children_of(pid):
    """Pids whose parent is `pid` (from /proc/<pid>/task/*/children)."""
    children = []
    for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        children += [int(c) for c in read_text(f"/proc/{pid}/task/{task}/children").split()]
    return children


def own_cgroups():
    """{controller mount dir name: our cgroup path} for every v1 hierarchy we are in."""
    result = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for ctrl in controllers.split(","):
                name = ctrl.removeprefix("name=") if ctrl else "unified"
                if os.path.isdir(f"/sys/fs/cgroup/{name}"):
                    result[name] = path
    return result


def remove_cgroup_tree(path):
    """Removes an (empty of tasks) cgroup directory and its child cgroups, deepest first."""
    if not os.path.isdir(path):
        return
    for root, dirs, _ in os.walk(path, topdown=False):
        for d in dirs:
            os.rmdir(os.path.join(root, d))
    os.rmdir(path)


def command_output(argv):
    """First line of a command's stdout, or '?' when it cannot run."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return "?"
    return out.strip().splitlines()[0] if out.strip() else "?"


def progress(text):
    """One line of progress on stderr; the report goes to stdout."""
    print(f"bench: {text}", file=sys.stderr, flush=True)


def make_empty_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def io_pressure():
    """The share of the last 10 s some task waited for I/O (percent), or None when the kernel
    does not tell (no PSI)."""
    try:
        with open("/proc/pressure/io") as f:
            first = f.readline().split()
    except OSError:
        return None
    return float(dict(field.split("=") for field in first[1:])["avg10"])


def wait_for_quiet_disk(limit_s=60, threshold=1.0):
    """Syncs, then waits (up to limit_s) until the disk has been quiet for about 10 s: deleting
    gigabytes of logs leaves ext4 discarding blocks for a while, which slows every extraction
    (bsdtar's measured from 1080 to 300 MB/s right after the logs section)."""
    os.sync()
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        pressure = io_pressure()
        if pressure is None or pressure <= threshold:
            return
        time.sleep(0.5)
