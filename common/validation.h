// Checks on identifiers that end up in paths, run before they touch the filesystem.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace quilt {

// A container id: exactly 64 lowercase hex characters.
bool IsValidId(absl::string_view id);

// Generates a new random container id (64 lowercase hex characters from getrandom).
std::string NewContainerId();

// True when `s` is UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool IsValidUtf8(absl::string_view s);

// Fails with INVALID_ARGUMENT naming `field` unless `name` matches
// [a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}.
absl::Status ValidateName(absl::string_view field, absl::string_view name);

// Fails with INVALID_ARGUMENT naming `field` unless `path` is absolute, valid UTF-8, has no
// NUL byte, no "." or ".." component and is at most 4095 bytes.
absl::Status ValidateAbsolutePath(absl::string_view field, absl::string_view path);

// Fails with INVALID_ARGUMENT naming `field` if `value` holds a NUL byte, is not valid UTF-8,
// or is longer than `max_len` bytes.
absl::Status ValidateText(absl::string_view field, absl::string_view value, size_t max_len);

}  // namespace quilt
