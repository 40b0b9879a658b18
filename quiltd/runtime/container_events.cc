#include "quiltd/runtime/container_events.h"

#include "absl/time/clock.h"

namespace quilt {

EventRecord ContainerEvent(EventType type, const ContainerRecord& record) {
  EventRecord event;
  event.type = type;
  event.time_ns = absl::GetCurrentTimeNanos();
  event.container_id = record.id;
  event.name = record.name;
  event.image = record.image_digest;
  return event;
}

EventRecord StartedEvent(const ContainerRecord& record) {
  EventRecord started = ContainerEvent(EventType::kStarted, record);
  if (record.started_at_ns != 0) started.time_ns = record.started_at_ns;
  return started;
}

std::vector<EventRecord> EndEvents(ContainerState was, const ContainerRecord& record) {
  if (was == ContainerState::kExited || was == ContainerState::kFailed) return {};
  std::vector<EventRecord> events;
  const bool never_ran = record.reason == "SetupFailed" || record.reason == "StartFailed";
  if (never_ran) {
    EventRecord failed = ContainerEvent(EventType::kStartFailed, record);
    failed.exit_code = record.exit_code;
    failed.reason = record.reason;
    failed.message = record.message;
    events.push_back(std::move(failed));
    return events;
  }
  // Events carry the time things happened, which differs from now when quiltd records an
  // end it missed while it was down.
  const int64_t ended_at =
      record.finished_at_ns != 0 ? record.finished_at_ns : absl::GetCurrentTimeNanos();
  if (was == ContainerState::kCreated) {
    EventRecord started = ContainerEvent(EventType::kStarted, record);
    started.time_ns = record.started_at_ns != 0 ? record.started_at_ns : ended_at;
    events.push_back(std::move(started));
  }
  if (record.reason == "OOMKilled") {
    EventRecord oom = ContainerEvent(EventType::kOom, record);
    oom.time_ns = ended_at;
    events.push_back(std::move(oom));
  }
  EventRecord exited = ContainerEvent(EventType::kExited, record);
  exited.time_ns = ended_at;
  exited.exit_code = record.exit_code;
  exited.signal = record.exit_signal;
  exited.reason = record.reason;
  exited.message = record.message;
  events.push_back(std::move(exited));
  return events;
}

EventRecord ImageEvent(EventType type, const ImageRecord& image) {
  EventRecord event;
  event.type = type;
  event.time_ns = absl::GetCurrentTimeNanos();
  event.image = image.digest;
  if (!image.names.empty()) event.name = image.names.front();
  return event;
}

}  // namespace quilt
