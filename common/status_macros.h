// Small status helpers: Debian's Abseil 20220623 ships no status_macros.h.
#pragma once

#include <cerrno>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define QUILT_STATUS_CONCAT_INNER_(a, b) a##b
#define QUILT_STATUS_CONCAT_(a, b) QUILT_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define QUILT_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status quilt_status_ = (expr);         \
    if (!quilt_status_.ok()) return quilt_status_; \
  } while (0)

// `QUILT_ASSIGN_OR_RETURN(auto x, Fn());` declares x from the value of a StatusOr, or returns
// its status.
#define QUILT_ASSIGN_OR_RETURN(lhs, expr) \
  QUILT_ASSIGN_OR_RETURN_IMPL_(QUILT_STATUS_CONCAT_(quilt_statusor_, __LINE__), lhs, expr)
#define QUILT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()

namespace quilt {

// Maps an errno value to the closest status code (ENOENT -> NOT_FOUND, ENOSPC ->
// RESOURCE_EXHAUSTED, EEXIST -> ALREADY_EXISTS, EACCES/EPERM -> PERMISSION_DENIED, ...).
absl::StatusCode ErrnoToCode(int err);

// "message: strerror(err)" with the code chosen by ErrnoToCode.
absl::Status ErrnoStatus(int err, absl::string_view message);

// ErrnoStatus with the current errno.
inline absl::Status ErrnoStatus(absl::string_view message) { return ErrnoStatus(errno, message); }

// Returns `status` with "context: " put before its message, keeping its code.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace quilt
