// Tar streams of local files for `quilt-cli cp`, with libarchive: archiving a path as it is
// (a symlink stays a symlink) and extracting with libarchive's secure flags.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace quilt::cli {

// Receives the next bytes of an archive.
using TarSink = std::function<absl::Status(absl::string_view bytes)>;
// Stores the next bytes of an archive in `*chunk`; empty at its end.
using TarSource = std::function<absl::Status(std::string* chunk)>;

// Writes `path` and everything below it as a pax tar to `sink`, the entries named
// `top_name` and `top_name/...` (`top_name` "." for a directory's contents). Numeric owners
// only: no user names are looked up. NOT_FOUND when `path` does not exist.
absl::Status ArchiveLocalPath(const std::string& path, const std::string& top_name,
                              const TarSink& sink);

// Extracts the tar read from `source` into the existing directory `dest_dir`, renaming the
// first component `from` of every entry to `to` when `from` is neither empty nor ".".
// Entries with absolute names or "..", and writes through symlinks, are refused
// (INVALID_ARGUMENT). Modes and times are kept, owners too when run as root.
absl::Status ExtractLocal(const TarSource& source, const std::string& dest_dir,
                          const std::string& from, const std::string& to);

}  // namespace quilt::cli
