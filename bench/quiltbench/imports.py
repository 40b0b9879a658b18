"""Benchmark 5: image import rate against bsdtar extracting into a fresh directory."""

import gzip
import os
import shutil
import subprocess
import tarfile

from quiltbench import common
from quiltbench.report import add

SOURCE_DIRS = ("/usr/lib/python3", "/usr/lib/x86_64-linux-gnu", "/usr/lib/gcc")
LARGEST_FILE = 8 * 1024 * 1024  # many files of real sizes, not one big library


def make_source_tar(path, target_bytes):
    """A tar of real files (libraries, scripts) of about target_bytes, made once per run."""
    listing = os.path.join(os.path.dirname(path), "import-files")
    total = 0
    with open(listing, "w") as out:
        for top in SOURCE_DIRS:
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files):
                    full = os.path.join(root, name)
                    if total >= target_bytes or os.path.islink(full) or not os.path.isfile(full):
                        continue
                    size = os.path.getsize(full)
                    if size > LARGEST_FILE:
                        continue
                    total += size
                    out.write(full.lstrip("/") + "\n")
    subprocess.run(["bsdtar", "-cf", path, "-C", "/", "-T", listing], check=True)
    os.unlink(listing)


def _nonce_member(index):
    """A one-file tar member without an end marker, prepended to make each trial's bytes
    (and so its digest) unique: a content-addressed store would otherwise skip the unpack."""
    data = f"bench trial {index} pid {os.getpid()}\n".encode()
    info = tarfile.TarInfo(f"bench-nonce-{index}")
    info.size = len(data)
    info.mode = 0o644
    return info.tobuf(format=tarfile.USTAR_FORMAT) + data + b"\0" * (-len(data) % 512)


def _variant(base, compressed, index, out):
    """base with a unique first member; gzip members concatenate, so no recompression."""
    member = _nonce_member(index)
    with open(out, "wb") as dst, open(base, "rb") as src:
        dst.write(gzip.compress(member, compresslevel=1) if compressed else member)
        shutil.copyfileobj(src, dst, 1 << 20)


def imports(ctx, size_bytes, trials):
    work = os.path.join(ctx.work_dir, "import")
    os.makedirs(work)
    base_tar = os.path.join(work, "base.tar")
    make_source_tar(base_tar, size_bytes)
    tar_bytes = os.path.getsize(base_tar)
    subprocess.run(["gzip", "-k", "-6", base_tar], check=True)
    common.wait_for_quiet_disk()
    formats = {"tar": (base_tar, False), "tar.gz": (base_tar + ".gz", True)}
    rates, digests = {}, []
    reimport_ms = []
    for trial in range(trials):
        for fmt, (base, compressed) in formats.items():
            path = os.path.join(work, f"trial-{trial}.{fmt}")
            _variant(base, compressed, trial, path)
            # Nothing dirty before a timed run: quilt's syncfs would otherwise also write
            # back the variant just written and bsdtar's last output.
            os.sync()
            start = common.now_ns()
            reply = ctx.api.import_image(path)
            elapsed = common.now_ns() - start
            if not reply.unpacked:
                raise RuntimeError(f"import {path}: not unpacked")
            digests.append(reply.image.digest)
            rates.setdefault(f"quilt Import, {fmt}", []).append(tar_bytes / common.MB /
                                                                 (elapsed / 1e9))
            start = common.now_ns()
            again = ctx.api.import_image(path)
            reimport_ms.append((common.now_ns() - start) / 1e6)
            if again.unpacked:
                raise RuntimeError(f"import {path} again: unpacked a second time")
            dest = os.path.join(work, f"bsdtar-{trial}-{fmt}")
            os.makedirs(dest)
            os.sync()
            elapsed = common.check_run(["/usr/bin/bsdtar", "-xf", path, "-C", dest])
            rates.setdefault(f"bsdtar -xf, {fmt}", []).append(tar_bytes / common.MB /
                                                             (elapsed / 1e9))
            # The same extraction made as durable as quilt's import: until its sync returns.
            durable = os.path.join(work, f"bsdtar-sync-{trial}-{fmt}")
            os.makedirs(durable)
            os.sync()
            start = common.now_ns()
            common.check_run(["/usr/bin/bsdtar", "-xf", path, "-C", durable])
            os.sync()
            rates.setdefault(f"bsdtar -xf + sync, {fmt}", []).append(
                tar_bytes / common.MB / ((common.now_ns() - start) / 1e9))
            os.unlink(path)
    # Deleting right before the next extraction slows ext4 down (notes/peers.md): last.
    for digest in digests:
        ctx.api.remove_image(digest)
    shutil.rmtree(work)
    rows = ctx.results.section(
        f"5. Image import: {tar_bytes / common.MB:.0f} MB of /usr/lib files "
        f"(rate = uncompressed tar bytes / wall time)", higher_is_better=True)
    for fmt in formats:
        peer = f"bsdtar -xf, {fmt}"
        add(rows, peer, common.Sample(rates[peer], "MB/s"),
            "reference row: fresh directory, no sync",
            reference=peer)
        add(rows, f"quilt Import, {fmt}", common.Sample(rates[f"quilt Import, {fmt}"], "MB/s"),
            "gRPC Import: unpack and hash in one read, syncfs, publish", reference=peer)
        add(rows, f"bsdtar -xf + sync, {fmt}",
            common.Sample(rates[f"bsdtar -xf + sync, {fmt}"], "MB/s"),
            "fresh directory, then sync: as durable as the import", reference=peer)
        quilt = common.Sample(rates[f"quilt Import, {fmt}"], "MB/s").median
        peer = common.Sample(rates[f"bsdtar -xf, {fmt}"], "MB/s").median
        ctx.results.target(f"import >= bsdtar ({fmt})",
                           f"{quilt:.0f} vs {peer:.0f} MB/s ({quilt / peer:.3f}x)", quilt >= peer)
        durable = common.Sample(rates[f"bsdtar -xf + sync, {fmt}"], "MB/s").median
        ctx.results.target(f"import >= bsdtar + sync, as durable ({fmt})",
                           f"{quilt:.0f} vs {durable:.0f} MB/s ({quilt / durable:.3f}x)",
                           quilt >= durable)
    add(rows, "quilt Import of the same bytes again", common.Sample(reimport_ms, "ms"),
        "the same unchanged file: replies unpacked=false, reads nothing; wall time of the call",
        comparable=False)
