#include "quilt-cli/event_format.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

using quilt::v1::EventType;

constexpr std::pair<EventType, const char*> kNames[] = {
    {quilt::v1::EVENT_TYPE_CREATED, "created"},
    {quilt::v1::EVENT_TYPE_STARTED, "started"},
    {quilt::v1::EVENT_TYPE_START_FAILED, "start-failed"},
    {quilt::v1::EVENT_TYPE_EXITED, "exited"},
    {quilt::v1::EVENT_TYPE_OOM, "oom"},
    {quilt::v1::EVENT_TYPE_STOPPED, "stopped"},
    {quilt::v1::EVENT_TYPE_KILLED, "killed"},
    {quilt::v1::EVENT_TYPE_REMOVED, "removed"},
    {quilt::v1::EVENT_TYPE_IMAGE_IMPORTED, "image-imported"},
    {quilt::v1::EVENT_TYPE_IMAGE_REMOVED, "image-removed"},
};

}  // namespace

std::string EventTypeName(EventType type) {
  for (const auto& [known, name] : kNames) {
    if (known == type) return name;
  }
  return absl::StrCat("type-", static_cast<int>(type));
}

absl::StatusOr<EventType> ParseEventType(absl::string_view name) {
  std::vector<std::string> names;
  for (const auto& [type, known] : kNames) {
    if (name == known) return type;
    names.push_back(known);
  }
  return absl::InvalidArgumentError(absl::StrCat("--type: unknown event type \"", name,
                                                 "\" (one of ", absl::StrJoin(names, ", "), ")"));
}

std::string FormatEvent(const quilt::v1::Event& event) {
  std::string line = absl::StrCat(event.seq(), " ", FormatTimestamp(event.time()), " ",
                                  EventTypeName(event.type()));
  if (!event.container_id().empty()) absl::StrAppend(&line, " ", ShortId(event.container_id()));
  if (event.container_id().empty() && !event.image().empty()) {
    absl::StrAppend(&line, " ", ShortDigest(event.image()));
  }
  if (!event.name().empty()) absl::StrAppend(&line, " name=", event.name());
  switch (event.type()) {
    case quilt::v1::EVENT_TYPE_EXITED:
      absl::StrAppend(&line, " code=", event.exit_code());
      if (event.signal() != 0) absl::StrAppend(&line, " signal=", event.signal());
      absl::StrAppend(&line, " reason=", event.reason());
      break;
    case quilt::v1::EVENT_TYPE_START_FAILED:
      absl::StrAppend(&line, " code=", event.exit_code(), " reason=", event.reason());
      break;
    case quilt::v1::EVENT_TYPE_KILLED:
      absl::StrAppend(&line, " signal=", event.signal());
      break;
    default:
      break;
  }
  if (!event.message().empty()) absl::StrAppend(&line, " message=", event.message());
  return line;
}

}  // namespace quilt::cli
