"""Benchmark 6: exec round trip of /bin/true in a running container."""

from quiltbench import common
from quiltbench.native_client import NativeClient
from quiltbench.report import add


def _api_exec_ns(ctx, ref):
    """One Exec call over the open channel: request sent until the stream's end."""
    start = common.now_ns()
    code = None
    pb = ctx.api.pb
    # A bidirectional stream: one `start`, then the half-close (the iterator's end).
    request = pb.ExecRequest(start=pb.ExecStart(ref=ref, command=["/bin/true"]))
    for reply in ctx.api.containers.Exec(iter([request])):
        if reply.HasField("exit"):
            code = reply.exit.exit_code
    elapsed = common.now_ns() - start
    if code != 0:
        raise RuntimeError(f"exec /bin/true in {ref}: exit code {code}")
    return elapsed


def exec_latency(ctx, iterations, warmup):
    """Every contender once per round, in a rotating order, each in its own long-running
    `sleep` container started before the first round."""
    sleeper = ctx.api.create(["sleep", "3600"])
    if sleeper.state != ctx.api.pb.CONTAINER_STATE_RUNNING:
        raise RuntimeError(f"start sleeper: {sleeper.reason}: {sleeper.message}")
    cli = ctx.quiltd.cli("exec", sleeper.id, "--", "/bin/true")
    native = NativeClient(ctx.quiltd.bench_client, ctx.quiltd.socket)
    contenders = {
        "quilt-cli exec (whole process)": lambda: common.check_run(cli),
        "quilt gRPC Exec, C++ client": lambda: native.exec(sleeper.id, ["/bin/true"]),
        "quilt gRPC Exec, Python client": lambda: _api_exec_ns(ctx, sleeper.id),
    }
    started = []
    try:
        for runtime in ctx.peer_runtimes:
            name = ctx.peers.start_sleeper(runtime)
            started.append((runtime, name))
            contenders[f"{runtime} exec"] = lambda r=runtime, n=name: ctx.peers.exec(r, n)[0]
        times = {name: [] for name in contenders}
        names = list(contenders)
        for i in range(warmup + iterations):
            for k in range(len(names)):
                name = names[(i + k) % len(names)]
                elapsed = contenders[name]()
                if i >= warmup:
                    times[name].append(elapsed)
    finally:
        native.close()
        for runtime, name in started:
            ctx.peers.delete(runtime, name)
        ctx.api.remove(sleeper.id, force=True)
    rows = ctx.results.section(
        f"6. Exec round trip of /bin/true in a running container ({iterations} each)",
        reference="crun exec" if "crun" in ctx.peer_runtimes else None)
    details = {
        "quilt-cli exec (whole process)": "CLI start, Exec stream to the exit, CLI exit",
        "quilt gRPC Exec, C++ client": "quilt-bench-client on an open channel",
        "quilt gRPC Exec, Python client": "python3-grpcio on an open channel",
        "crun exec": "one `crun exec` process",
        "runc exec": "one `runc exec` process",
    }
    for name in names:
        add(rows, name, common.ms(times[name]), details[name])
    return {name: common.ms(t) for name, t in times.items()}
