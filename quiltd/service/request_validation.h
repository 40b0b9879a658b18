// Field-by-field checks of requests before anything is created. Each failure is
// INVALID_ARGUMENT and names the field ("spec.mounts[1].destination: ...").
#pragma once

#include <string>

#include "absl/status/status.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt {

absl::Status ValidateSpec(const v1::ContainerSpec& spec);

// A container or image reference: non-empty, at most 256 bytes, no NUL.
absl::Status ValidateRef(const std::string& ref);

// A signal number 1..64, or 0 (meaning the call's default).
absl::Status ValidateSignal(int signal);

absl::Status ValidateImportRequest(const v1::ImportRequest& request);
// The file an Import names (after ValidateImportRequest): NOT_FOUND when missing,
// INVALID_ARGUMENT "path: ..." when not a regular file or empty. The importer checks again
// on the file it opens; this gives the client an error naming the field.
absl::Status CheckImportFile(const std::string& path);
// state a known ContainerState, name_contains at most 128 bytes of UTF-8.
absl::Status ValidateListRequest(const v1::ListRequest& request);
// ref, tail >= 0 when set, since a valid Timestamp when set, stream a known LogStream.
absl::Status ValidateLogsRequest(const v1::LogsRequest& request);
absl::Status ValidateStopRequest(const v1::StopRequest& request);
// The start of an Exec ("start." prefixed fields): ref, a non-empty command, KEY=VALUE env
// entries, an absolute working_dir, a timeout from 0 (none) up to 30 days, a terminal size
// only with tty and at most 65535 in each direction.
absl::Status ValidateExecStart(const v1::ExecStart& start);

// A terminal size ("<field>.rows", "<field>.columns"): each at most 65535.
absl::Status ValidateTerminalSize(absl::string_view field, const v1::TerminalSize& size);

// ref, an absolute path without "..", a source_name that is one path component other than
// ".." (or empty).
absl::Status ValidateCopyToRequest(const v1::CopyToRequest& request);
// ref and an absolute path without "..".
absl::Status ValidateCopyFromRequest(const v1::CopyFromRequest& request);

// since_seq not negative, container a sane ref if set, every type a known EVENT_TYPE_*.
absl::Status ValidateEventsRequest(const v1::EventsRequest& request);

}  // namespace quilt
