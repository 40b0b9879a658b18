// How `quilt-cli events` names event types and prints an event.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// "created", "started", "start-failed", "exited", "oom", "stopped", "killed", "removed",
// "image-imported", "image-removed".
std::string EventTypeName(quilt::v1::EventType type);

// The type named `name` (as EventTypeName prints it). INVALID_ARGUMENT listing the names.
absl::StatusOr<quilt::v1::EventType> ParseEventType(absl::string_view name);

// One line, without newline:
// "<seq> <time> <type> <id12> [name=N] [code=C signal=S reason=R] [message=M]".
std::string FormatEvent(const quilt::v1::Event& event);

}  // namespace quilt::cli
