"""Benchmarks 1 and 2: start-to-exit of /bin/true, and containers per second."""

import json
import os
import subprocess
import sys

from quiltbench import common
from quiltbench.native_client import NativeClient
from quiltbench.report import add

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")


def _api_run_ns(ctx):
    """Create(start) until Wait returns, on the daemon's side of one gRPC channel."""
    start = common.now_ns()
    exited = ctx.api.run(["/bin/true"])
    elapsed = common.now_ns() - start
    if exited.exit_code != 0:
        raise RuntimeError(f"container {exited.id}: exit code {exited.exit_code}")
    ctx.api.remove(exited.id)
    return elapsed


def start_to_exit(ctx, iterations, warmup):
    """Every contender once per round, in a rotating order, so drift hits all alike."""
    cli = ctx.quiltd.cli("run", "--rm", "--", "/bin/true")
    native = NativeClient(ctx.quiltd.bench_client, ctx.quiltd.socket)
    contenders = {
        "quilt-cli run --rm (whole process)": lambda: common.check_run(cli),
        "quilt gRPC Create(start)+Wait, C++ client": lambda: native.run(["/bin/true"]),
        "quilt gRPC Create(start)+Wait, Python client": lambda: _api_run_ns(ctx),
    }
    for runtime in ctx.peer_runtimes:
        contenders[f"{runtime} run"] = lambda r=runtime: ctx.peers.run(r)[0]
    times = {name: [] for name in contenders}
    names = list(contenders)
    try:
        for i in range(warmup + iterations):
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                elapsed = contenders[name]()
                # quiltd replaces the spare a start took in the background; the next
                # contender is measured once it is done (see Quiltd.settle).
                ctx.quiltd.settle()
                if i >= warmup:
                    times[name].append(elapsed)
    finally:
        native.close()
    rows = ctx.results.section("1. Start-to-exit of /bin/true (wall time per container)",
                               reference="crun run" if "crun" in ctx.peer_runtimes else None)
    details = {
        "quilt-cli run --rm (whole process)": "CLI start, Create, Logs, Wait, Remove",
        "quilt gRPC Create(start)+Wait, C++ client": "quilt-bench-client; Remove not timed",
        "quilt gRPC Create(start)+Wait, Python client": "python3-grpcio; Remove not timed",
        "crun run": "one `crun run` process, cgroup under ours",
        "runc run": "one `runc run` process, cgroup under ours",
    }
    for name in names:
        add(rows, name, common.ms(times[name]), details[name])
    return {name: common.ms(t) for name, t in times.items()}


def _quilt_rate(ctx, clients, total):
    """Containers/s with `clients` worker processes sharing `total` containers."""
    workers = []
    errors = os.path.join(ctx.work_dir, "worker-errors")
    for i in range(clients):
        count = total // clients + (1 if i < total % clients else 0)
        with open(errors, "a") as err:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-B", WORKER, ctx.quiltd.socket, ctx.stub_dir, str(count)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True))
    for w in workers:
        if w.stdout.readline().strip() != "ready":
            raise RuntimeError("throughput worker failed to connect")
    for w in workers:
        w.stdin.write("go\n")
        w.stdin.flush()
    spans = []
    for w in workers:
        line = w.stdout.readline()
        if w.wait() != 0 or not line:
            with open(errors) as err:
                # grpc errors end with a multi-line repr: its "details" line says why.
                lines = [ln.strip() for ln in err.read().splitlines() if ln.strip()]
            why = [ln for ln in lines if ln.startswith("details")] or lines or ["no output"]
            raise RuntimeError(f"throughput worker failed: {why[-1]}")
        spans.append(json.loads(line))
    wall = max(s["end_ns"] for s in spans) - min(s["start_ns"] for s in spans)
    return total / (wall / 1e9)


def throughput(ctx, rounds, total, client_counts):
    """Rounds of: quilt with each client count, then each peer back to back and 2-way."""
    rates = {}

    def record(name, rate):
        rates.setdefault(name, []).append(rate)

    for _ in range(rounds):
        for clients in client_counts:
            record(f"quilt gRPC, {clients} client(s)", _quilt_rate(ctx, clients, total))
        for runtime in ctx.peer_runtimes:
            for parallel in (1, 2):
                wall = ctx.peers.batch(runtime, total, parallel)
                mode = "back to back" if parallel == 1 else "2-way parallel"
                record(f"{runtime} run, {mode}", total / (wall / 1e9))
    ref = "crun run, back to back" if "crun" in ctx.peer_runtimes else None
    rows = ctx.results.section(
        f"2. Throughput: /bin/true containers per second ({total} per measurement)",
        reference=ref, higher_is_better=True)
    for name, values in rates.items():
        detail = "Create(start)+Wait+Remove per container, one process per client" \
            if name.startswith("quilt") else "whole `run` process per container"
        add(rows, name, common.Sample(values, "containers/s"), detail)
    return {name: common.Sample(v, "containers/s") for name, v in rates.items()}
