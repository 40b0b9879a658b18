// Small filesystem helpers with Status errors.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace quilt {

// Writes `text` to a temp file beside `path`, fsyncs it and renames it over `path`, so
// readers see the old or the new content, never a mix.
absl::Status WriteFileAtomically(const std::string& path, const std::string& text);

// The whole file. NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Deletes `path` and everything below it without following symlinks. OK if it is absent.
absl::Status RemoveTree(const std::string& path);

// mkdir -p with `mode` for the directories it creates.
absl::Status MakeDirs(const std::string& path, unsigned mode);

}  // namespace quilt
