// overlayfs' "volatile" mount option, which every container rootfs and detached copy
// overlay uses.
//
// Without it, unmounting an overlay syncs the whole upper filesystem: each container's end
// waited for every dirty page on the host's disk to be written back (160 ms after a
// container had logged 268 MB; 1-4 ms for /bin/true), and so did the next Wait. A volatile
// overlay skips every sync; its upper directory is then as safe as any file written
// without fsync: a crash of the machine may lose the last seconds of writes (see
// docs/reliability.md).
//
// A volatile mount leaves <work_dir>/work/incompat/volatile/dirty behind, and the kernel
// refuses to mount that work dir again while it exists, even after a clean unmount.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <string>

namespace quilt {

inline constexpr char kOverlayVolatileOption[] = "volatile";

// Removes the marker a former volatile mount of `work_dir` left; call before mounting.
// False with errno set when it cannot (no marker is no failure).
inline bool ClearOverlayVolatileMarker(const std::string& work_dir) {
  const std::string marker = work_dir + "/work/incompat/volatile";
  if (unlink((marker + "/dirty").c_str()) != 0 && errno != ENOENT) return false;
  return rmdir(marker.c_str()) == 0 || errno == ENOENT;
}

}  // namespace quilt
