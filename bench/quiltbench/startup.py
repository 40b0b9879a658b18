"""Benchmarks 1 and 2: start-to-exit of /bin/true, and containers per second."""

from quiltbench import common
from quiltbench.native_client import NativeClient
from quiltbench.report import add

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


def throughput(ctx, rounds, total, client_counts):
    """Rounds of: quilt with each client count, then each peer back to back and 2-way."""
    rates = {}

    def record(name, rate):
        rates.setdefault(name, []).append(rate)

    native = NativeClient(ctx.quiltd.bench_client, ctx.quiltd.socket)
    try:
        for _ in range(rounds):
            for clients in client_counts:
                wall = native.churn(clients, total, ["/bin/true"])
                record(f"quilt gRPC, {clients} client(s)", total / (wall / 1e9))
            for runtime in ctx.peer_runtimes:
                for parallel in (1, 2):
                    wall = ctx.peers.batch(runtime, total, parallel)
                    mode = "back to back" if parallel == 1 else "2-way parallel"
                    record(f"{runtime} run, {mode}", total / (wall / 1e9))
    finally:
        native.close()
    ref = "crun run, back to back" if "crun" in ctx.peer_runtimes else None
    rows = ctx.results.section(
        f"2. Throughput: /bin/true containers per second ({total} per measurement)",
        reference=ref, higher_is_better=True)
    for name, values in rates.items():
        detail = "Create(start)+Wait+Remove per container, one thread per client (C++)" \
            if name.startswith("quilt") else "whole `run` process per container"
        add(rows, name, common.Sample(values, "containers/s"), detail)
    return {name: common.Sample(v, "containers/s") for name, v in rates.items()}
