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
absl::Status ValidateStopRequest(const v1::StopRequest& request);
// The start of an Exec ("start." prefixed fields): ref, a non-empty command, KEY=VALUE env
// entries, an absolute working_dir, timeout >= 0, a terminal size only with tty and at most
// 65535 in each direction.
absl::Status ValidateExecStart(const v1::ExecStart& start);

// A terminal size ("<field>.rows", "<field>.columns"): each at most 65535.
absl::Status ValidateTerminalSize(absl::string_view field, const v1::TerminalSize& size);

}  // namespace quilt
