// Filesystem helpers with Status errors.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quilt {

// What a write must survive. A crash of a process (quiltd, a monitor) loses nothing the
// kernel has; a crash of the machine loses what is not on disk yet, at the price of an
// fsync (about 1 ms each on the hosts measured).
enum class Durability { kProcessCrash, kMachineCrash };

// Replaces the file at `path` with `contents` atomically: writes "<path>.tmp" and renames it
// over `path`, so any crash leaves the old or the new file. For kMachineCrash it also fsyncs
// the file before the rename and the directory after it.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 Durability durability = Durability::kMachineCrash);

// The whole file. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Deletes `path` and everything below it without following symlinks or crossing mount
// points. A missing `path` is OK. Fails with the errno of the first entry that could not be
// removed (the rest is still attempted).
absl::Status RemoveTree(const std::string& path);

// Flushes the directory entry changes (creates, renames) of directory `dir` to disk.
absl::Status FsyncDir(const std::string& dir);

// The names in directory `dir`, without "." and "..", in no particular order.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);

// Creates `path` and missing parents with `mode` (like mkdir -p). An existing directory is
// OK; an existing non-directory is FAILED_PRECONDITION.
absl::Status MakeDirs(const std::string& path, mode_t mode = 0755);

}  // namespace quilt
