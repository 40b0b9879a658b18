// Writes a file or directory tree of a container as a tar stream, reading it only through
// directory fds: every name is opened relative to its already-open parent with O_NOFOLLOW,
// so a symlink in the container is archived as a symlink and never read through, and a
// directory swapped for a symlink during the walk fails the open instead of leading out.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace quilt {

// What a copy reads: `name` in the directory `parent`, or (contents) the entries of the
// directory `parent` itself.
struct TarSource {
  UniqueFd parent;
  std::string name;  // "." for the contents of `parent`
  struct stat st;    // lstat of the source
  std::string link_target;
};

// Resolves `path` (absolute, as seen in the container) below `root_fd`: every component but
// the last is followed inside the root (openat2 RESOLVE_IN_ROOT); the last is never
// followed (a trailing "/" requires a directory). A path ending in "/." (or "/") names a
// directory's contents. NOT_FOUND when it does not exist; INVALID_ARGUMENT for a path
// ending in "..".
absl::StatusOr<TarSource> OpenTarSource(int root_fd, absl::string_view path);

// Receives the archive's bytes in order; a failure stops the archiving with that status.
using ChunkSink = std::function<absl::Status(absl::string_view bytes)>;

// Writes `source` as a pax tar to `sink`: entries named `source.name` and below it (or, for
// contents, the directory's entries by their own names), with mode, numeric owner, mtime,
// symlink targets and hard links among the copied files. Sockets are left out. A file
// that shrinks while read is padded with zeros, one that grows is cut at its size.
absl::Status WriteTar(const TarSource& source, const ChunkSink& sink);

}  // namespace quilt
