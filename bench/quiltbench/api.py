"""A small gRPC client of quilt.v1, built from Python stubs generated at run time."""

import importlib
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRPC_PLUGIN = "/usr/bin/grpc_python_plugin"


def generate_stubs(out_dir):
    """Writes quilt/v1/quilt_pb2{,_grpc}.py for the repo's proto into out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    subprocess.run([
        "protoc", f"-I{REPO}/proto", f"--python_out={out_dir}", f"--grpc_python_out={out_dir}",
        f"--plugin=protoc-gen-grpc_python={GRPC_PLUGIN}", f"{REPO}/proto/quilt/v1/quilt.proto"
    ], check=True)


class Api:
    """Blocking calls on one channel to one quiltd; safe to share between threads."""

    def __init__(self, socket_path, stub_dir):
        if stub_dir not in sys.path:
            sys.path.insert(0, stub_dir)
        self.grpc = importlib.import_module("grpc")
        self.pb = importlib.import_module("quilt.v1.quilt_pb2")
        stubs = importlib.import_module("quilt.v1.quilt_pb2_grpc")
        # A private subchannel pool: a stale subchannel of an earlier daemon on the same
        # socket path must not be reused.
        self.channel = self.grpc.insecure_channel(
            f"unix:{socket_path}", options=[("grpc.use_local_subchannel_pool", 1)])
        self.containers = stubs.ContainersStub(self.channel)
        self.images = stubs.ImagesStub(self.channel)
        self.system = stubs.SystemStub(self.channel)

    def close(self):
        self.channel.close()

    def version(self, timeout=20.0):
        """Waits up to `timeout` s for the daemon to answer; returns its VersionResponse."""
        return self.system.Version(self.pb.VersionRequest(), timeout=timeout, wait_for_ready=True)

    def create(self, command, start=True, name="", log_max_bytes=0):
        """Creates (and by default starts) a container of the default image; returns it.
        log_max_bytes 0 keeps quiltd's default log size (64 MiB, 3 files kept)."""
        spec = self.pb.ContainerSpec(command=command, name=name, log_max_bytes=log_max_bytes)
        reply = self.containers.Create(self.pb.CreateRequest(spec=spec, start=start))
        return reply.container

    def wait(self, ref):
        return self.containers.Wait(self.pb.WaitRequest(ref=ref)).container

    def remove(self, ref, force=False):
        self.containers.Remove(self.pb.RemoveRequest(ref=ref, force=force))

    def run(self, command, log_max_bytes=0):
        """Create(start) then Wait; returns the exited container (not removed)."""
        created = self.create(command, log_max_bytes=log_max_bytes)
        if created.state == self.pb.CONTAINER_STATE_FAILED:
            raise RuntimeError(f"start {command}: {created.reason}: {created.message}")
        return self.wait(created.id)

    def log_bytes(self, ref, follow=False):
        """Streams a container's stdout and returns how many bytes arrived."""
        request = self.pb.LogsRequest(ref=ref, follow=follow, stream=self.pb.LOG_STREAM_STDOUT)
        total = 0
        for reply in self.containers.Logs(request):
            for entry in reply.entries:
                total += len(entry.data)
        return total

    def import_image(self, path):
        """Imports a tarball; returns the ImportResponse."""
        return self.images.Import(self.pb.ImportRequest(path=path))

    def remove_image(self, ref):
        self.images.RemoveImage(self.pb.RemoveImageRequest(ref=ref, force=True))
