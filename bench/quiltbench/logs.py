"""Benchmark 4: log capture and delivery rates, and the byte count check."""

import os

from quiltbench import common
from quiltbench.report import add

LINE = "x" * 99  # `yes` adds the newline: 100-byte lines


def writers(total_bytes):
    """{name: shell command writing exactly total_bytes to stdout as fast as it can}."""
    blocks = total_bytes // 65536
    return {
        "dd, 64 KiB writes": f"dd if=/dev/zero bs=65536 count={blocks} 2>/dev/null",
        "100-byte lines (yes | head -c)": f"yes {LINE} | head -c {blocks * 65536}",
    }


def _host_file(ctx, command, out):
    """The same writer, with the image's busybox, straight into a new file on the same fs.

    New, as each container's log is: truncating the last trial's output would be timed too.
    """
    if os.path.exists(out):
        os.unlink(out)
    rootfs = ctx.rootfs
    env = {"PATH": f"{rootfs}/bin:{rootfs}/sbin:{rootfs}/usr/bin"}
    return common.check_run([f"{rootfs}/bin/sh", "-c", command], stdout=out, env=env)


# Log files larger than the whole output: with quiltd's default rotation (64 MiB, 3 files)
# the oldest output of a writer this large is dropped by design, and the byte check would
# count it as lost.
LOG_MAX_BYTES = 4 << 30


def _captured(ctx, command, out):
    """Create(start)..Wait: until the monitor has written the whole log; then checks bytes."""
    start = common.now_ns()
    exited = ctx.api.run(["sh", "-c", command], log_max_bytes=LOG_MAX_BYTES)
    elapsed = common.now_ns() - start
    if exited.exit_code != 0:
        raise RuntimeError(f"log writer {exited.id}: exit code {exited.exit_code}")
    history = common.check_run(ctx.quiltd.cli("logs", "--stdout-only", exited.id), stdout=out)
    ctx.api.remove(exited.id)
    return elapsed, history


def _followed(ctx, command, out):
    """`quilt-cli run --rm` into a file: capture plus a following Logs stream, end to end."""
    return common.check_run(
        ctx.quiltd.cli("run", "--rm", "--log-max-size", str(LOG_MAX_BYTES), "--", "sh", "-c",
                       command), stdout=out)


def logs(ctx, total_bytes, trials):
    out = os.path.join(ctx.work_dir, "log-output")
    rows = ctx.results.section(
        f"4. Logs: a container writing {total_bytes / common.MB:.0f} MB to stdout",
        higher_is_better=True)
    for writer, command in writers(total_bytes).items():
        rates = {"host file": [], "captured": [], "history": [], "followed": []}
        lost = 0

        def measure(key, elapsed):
            rates[key].append(total_bytes / common.MB / (elapsed / 1e9))
            return os.path.getsize(out)

        for _ in range(trials):
            # Each writer starts with nothing dirty: the kernel throttles a writer once the
            # earlier trials' output (GBs, never synced) piles up in the page cache.
            os.sync()
            if measure("host file", _host_file(ctx, command, out)) != total_bytes:
                raise RuntimeError(f"host writer wrote {os.path.getsize(out)} bytes")
            os.sync()
            captured, history = _captured(ctx, command, out)
            measure("captured", captured)
            lost = max(lost, abs(total_bytes - measure("history", history)))
            os.sync()
            lost = max(lost, abs(total_bytes - measure("followed", _followed(ctx, command, out))))
        os.unlink(out)
        host_label = f"{writer}: same writer into a host file"
        labels = {
            "host file":
                ("same writer into a host file", "reference row: busybox on the host, same fs"),
            "captured": ("captured by quilt-monitor", "Create(start) until Wait returns"),
            "history": ("delivered: `quilt-cli logs` of the finished log", "whole CLI process"),
            "followed": ("delivered: `quilt-cli run --rm` following", "start, follow, rm"),
        }
        for key, (label, detail) in labels.items():
            add(rows, f"{writer}: {label}", common.Sample(rates[key], "MB/s"), detail,
                reference=host_label)
        host = common.Sample(rates["host file"], "MB/s")
        captured = common.Sample(rates["captured"], "MB/s").median
        ctx.results.target(f"log capture >= 0.9x host file ({writer})",
                           f"{captured / host.median:.2f}x", captured >= 0.9 * host.median)
        ctx.results.target(f"0 bytes lost ({writer})",
                           f"{lost} bytes lost or extra (worst trial)", lost == 0)
