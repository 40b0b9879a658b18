// docker cp's placement rules for a copy into a container (see v1.CopyToRequest).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "quiltd/copy/tar_extractor.h"

namespace quilt {

// Extracts the archive from `source` into the container whose root is `root_fd`:
//  - `path` is a directory (symlinks followed inside the root): into it;
//  - else, with a `source_name`: as `path` itself, into its parent (which must exist), the
//    archive's top entry renamed to the last component of `path`;
//  - else NOT_FOUND (a tar of any entries needs an existing directory).
// `source_name` "." means the archive holds a directory's contents: they go into `path`,
// which is created when missing (its parent must exist).
// Returns the container path the copy landed at. NOT_FOUND for a missing destination or
// parent, ExtractTar's errors otherwise.
absl::StatusOr<std::string> CopyIntoRoot(int root_fd, const std::string& path,
                                         const std::string& source_name, const ChunkSource& source);

}  // namespace quilt
