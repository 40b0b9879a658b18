// Filesystem helpers of the image store.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace quilt {

// Deletes `path` and everything below it without following symlinks or crossing mount
// points. A missing `path` is OK. Fails with the errno of the first entry that could not be
// removed (the rest is still attempted).
absl::Status RemoveTree(const std::string& path);

// Replaces the file at `path` with `contents` atomically: writes "<path>.tmp", fsyncs it,
// renames it over `path` and fsyncs the directory, so a crash leaves the old or the new file.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view contents);

// Flushes the directory entry changes (creates, renames) of directory `dir` to disk.
absl::Status FsyncDir(const std::string& dir);

// Creates `path` and missing parents with mode 0755 (like mkdir -p). An existing directory
// is OK.
absl::Status MakeDirs(const std::string& path);

}  // namespace quilt
