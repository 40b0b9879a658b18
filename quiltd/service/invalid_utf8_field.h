// Names the string field that keeps a serialized message from parsing: protobuf refuses a
// proto3 message whose string field is not UTF-8, and says neither which field nor that
// this was the reason.
#pragma once

#include <google/protobuf/descriptor.h>

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace quilt {

// Returns the path of the first string field (by field number, depth first) of the
// serialized message `wire`, of type `type`, whose value is not valid UTF-8, named as request
// validation names fields: "spec.env[2]", "spec.mounts[0].source", `labels["key"].value`
// (a map entry by its key when that is short UTF-8, else by its index). Returns nullopt when
// every string is UTF-8, or when `wire` does not parse even with strings read as bytes.
// Slow (it builds a copy of `type`'s file on first use): only for messages that failed to
// parse.
std::optional<std::string> FindInvalidUtf8Field(const google::protobuf::Descriptor& type,
                                                absl::string_view wire);

}  // namespace quilt
