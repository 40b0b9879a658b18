// A lifecycle event as the state store persists it and the Events RPC streams it.
#pragma once

#include <cstdint>
#include <string>

namespace quilt {

// Mirrors quilt.v1.EventType; the numbers are stored, so never renumber.
enum class EventType : int {
  kCreated = 1,
  kStarted = 2,
  kStartFailed = 3,  // setup or start failed: the workload never ran (reason says which)
  kExited = 4,
  kOom = 5,
  kStopped = 6,
  kKilled = 7,
  kRemoved = 8,
  kImageImported = 9,
  kImageRemoved = 10,
};
constexpr int kMaxEventType = static_cast<int>(EventType::kImageRemoved);

struct EventRecord {
  int64_t seq = 0;  // assigned by the store when the event is written: 1, 2, 3, ...
  int64_t time_ns = 0;
  EventType type = EventType::kCreated;
  std::string container_id;  // empty for image events
  std::string name;          // the container's name, or the image's name
  std::string image;         // image digest
  int32_t exit_code = 0;     // kExited, kStartFailed
  int32_t signal = 0;        // kExited: the signal that ended it; kKilled: the signal sent
  std::string reason;
  std::string message;
};

}  // namespace quilt
