"""Benchmark 3: memory per running container outside the workload."""

import concurrent.futures

from quiltbench import common
from quiltbench.report import add

CONMON_PRIVATE_MIB = 0.6  # notes/peers.md: podman 4.3's conmon, private memory per container


def _overhead_processes(init_pid):
    """The monitor (init's parent) and the init itself when it is not the workload."""
    with open(f"/proc/{init_pid}/comm") as f:
        init_is_workload = f.read().strip() == "sleep"
    monitor = common.ppid(init_pid)
    return monitor, (None if init_is_workload else init_pid)


def density(ctx, count):
    """Starts `count` sleepers, measures, removes them; records rows and targets."""
    ctx.api.remove(ctx.api.run(["/bin/true"]).id)  # thread pools and caches warm
    rss_before = ctx.quiltd.rss_kib()
    ids = []
    start = common.now_ns()
    try:
        for _ in range(count):
            created = ctx.api.create(["sleep", "3600"])
            ids.append(created.id)
            if created.state != ctx.api.pb.CONTAINER_STATE_RUNNING:
                raise RuntimeError(f"start sleeper: {created.reason}: {created.message}")
        start_s = (common.now_ns() - start) / 1e9
        monitor_uss, init_uss, monitor_rss = [], [], []
        for cid in ids:
            init_pid = ctx.api.containers.Get(ctx.api.pb.GetRequest(ref=cid)).container.pid
            monitor, init = _overhead_processes(init_pid)
            monitor_uss.append(common.uss_kib(monitor) / 1024)
            monitor_rss.append(common.rss_kib(monitor) / 1024)
            init_uss.append(common.uss_kib(init) / 1024 if init else 0.0)
        rss_after = ctx.quiltd.rss_kib()
    finally:
        remove_start = common.now_ns()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: ctx.api.remove(i, force=True), ids))
        remove_s = (common.now_ns() - remove_start) / 1e9
    growth = (rss_after - rss_before) / 1024
    rows = ctx.results.section(f"3. Density: {count} running `sleep 3600` containers",
                               reference="conmon (podman 4.3), from notes/peers.md")
    add(rows, "conmon (podman 4.3), from notes/peers.md",
        common.Sample([CONMON_PRIVATE_MIB], "MiB"),
        "private memory per container, reference line (not run)")
    add(rows, "quilt-monitor USS per container", common.Sample(monitor_uss, "MiB"),
        "smaps_rollup Private_*; worst = 99th percentile container")
    add(rows, "container init USS (if not the workload)", common.Sample(init_uss, "MiB"),
        "0 when the init execs the workload itself")
    total = [m + i for m, i in zip(monitor_uss, init_uss)]
    add(rows, "quilt overhead processes USS per container", common.Sample(total, "MiB"),
        "monitor + init")
    add(rows, "quilt-monitor RSS per container", common.Sample(monitor_rss, "MiB"),
        "includes pages shared with other monitors", comparable=False)
    add(rows, "quiltd RSS growth per container", common.Sample([growth / count], "MiB"),
        f"{rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB with {count} running")
    add(rows, "quiltd RSS with all running", common.Sample([rss_after / 1024], "MiB"), "VmRSS",
        comparable=False)
    add(rows, "start rate (sequential Create)", common.Sample([count / start_s], "containers/s"),
        f"{start_s:.1f} s for {count}", comparable=False)
    add(rows, "force-remove rate (4 threads)", common.Sample([count / remove_s], "containers/s"),
        f"{remove_s:.1f} s for {count}", comparable=False)
    per = common.Sample(total, "MiB").median
    ctx.results.target("per-container private memory <= 0.5x conmon (0.3 MiB)",
                       f"{per:.2f} MiB ({per / CONMON_PRIVATE_MIB:.2f}x)",
                       per <= CONMON_PRIVATE_MIB / 2)
    # Below 500 containers, the daemon's RSS at 500 is extrapolated from its growth.
    at_500 = (rss_before + max(growth * 1024, 0) / count * 500) / 1024
    measured = f"{rss_after / 1024:.1f} MiB with {count}"
    if count < 500:
        measured += f", extrapolated {at_500:.1f} MiB at 500 (run --density 500)"
    ctx.results.target("quiltd RSS < 64 MiB with 500 running", measured, at_500 < 64)
