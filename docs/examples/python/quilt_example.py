#!/usr/bin/python3
"""A Quilt client in Python: create a container, run three commands in it, read its log,
remove it. Uses Debian's python3-grpcio and python3-protobuf, and the stubs the build
generates from proto/quilt/v1/quilt.proto (see README.md).

usage: quilt_example.py [--socket /run/quilt/quilt.sock]
"""

import argparse
import os
import sys

import grpc
from quilt.v1 import quilt_pb2 as pb
from quilt.v1 import quilt_pb2_grpc as rpc


def run_exec(containers, ref, argv, timeout_seconds=30):
    """Runs argv in the container; returns (exit_code, stdout bytes, stderr bytes).

    The one place that speaks the Exec protocol: a bidirectional stream. The client sends
    one `start` message and half-closes (the end of the iterator; no stdin), the server
    streams output chunks ending with an `exit` message.
    """
    start = pb.ExecStart(ref=ref, command=argv, timeout_seconds=timeout_seconds)
    out, err, exit_code = [], [], None
    for response in containers.Exec(iter([pb.ExecRequest(start=start)])):
        if response.HasField("exit"):
            exit_code = response.exit.exit_code
        elif response.output.stream == pb.LOG_STREAM_STDERR:
            err.append(response.output.data)
        else:
            out.append(response.output.data)
    if exit_code is None:
        raise RuntimeError("exec stream ended without an exit status")
    return exit_code, b"".join(out), b"".join(err)


def read_logs(containers, ref):
    """The container's whole log so far, both streams, in order."""
    chunks = []
    for response in containers.Logs(pb.LogsRequest(ref=ref)):
        chunks.extend(entry.data for entry in response.entries)
    return b"".join(chunks)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", default=os.environ.get("QUILT_SOCKET", "/run/quilt/quilt.sock"))
    args = parser.parse_args()

    channel = grpc.insecure_channel("unix:" + args.socket)
    containers = rpc.ContainersStub(channel)

    spec = pb.ContainerSpec(command=["sh", "-c", "echo hello from the workload; sleep 1000"])
    container = containers.Create(pb.CreateRequest(spec=spec, start=True)).container
    print(f"created {container.id[:12]}: {pb.ContainerState.Name(container.state)}")
    try:
        for argv in (["echo", "one"], ["uname", "-s"], ["sh", "-c", "echo to stderr >&2; exit 3"]):
            code, out, err = run_exec(containers, container.id, argv)
            print(f"exec {argv!r}: exit {code}, stdout {out!r}, stderr {err!r}")
        print(f"logs: {read_logs(containers, container.id)!r}")
    finally:
        removed = containers.Remove(pb.RemoveRequest(ref=container.id, force=True))
        print(f"removed {removed.id[:12]}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        print(f"quilt_example: {e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
