// Extracts a tar stream into a directory of a container without ever leaving it: libarchive
// reads the archive, TreeWriter (tree_writer.h) creates the entries through directory fds.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace quilt {

// Where the entries of an archive go below the destination directory.
struct ExtractPlan {
  // When set, every entry must be `source_name` or below it, and that first component is
  // renamed to `target_name` (docker cp's "copy as"). Empty: any relative names.
  std::string source_name;
  std::string target_name;
  int64_t max_entries = 1'000'000;
  int64_t max_entry_bytes = int64_t{64} << 30;
};

// Stores the next bytes of the archive in `*chunk` (cleared first); an empty chunk means
// the end of the archive.
using ChunkSource = std::function<absl::Status(std::string* chunk)>;

// Extracts the tar archive (plain, gzip, xz, zstd or bzip2) read from `source` below the
// directory `dest_fd`. Entries keep their mode (setuid bits included), mtime and, when we
// are root, numeric owner. Existing files are replaced, existing directories merged.
// Fails with INVALID_ARGUMENT `entry "<name>": <why>` for an absolute name, "..", a name
// outside `plan.source_name`, a device node or socket, a path through a symlink, a hard
// link to outside the archive's tree, a directory over a non-directory or the reverse, or
// too many or too big entries; with the source's error when it fails; with the errno's
// code (RESOURCE_EXHAUSTED for a full disk) when the disk refuses. Stops at the first error:
// what was extracted before stays.
absl::Status ExtractTar(const ChunkSource& source, int dest_fd, const ExtractPlan& plan);

}  // namespace quilt
