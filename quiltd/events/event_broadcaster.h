// Fans committed events out to live subscribers. Publishing never blocks on a subscriber:
// each has a bounded buffer, and one that falls further behind is cut off (it resumes from
// the store with the last seq it saw).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "quiltd/store/event_record.h"

namespace quilt {

// Which events a client wants. Empty fields match everything.
struct EventFilter {
  // A container id, unique id prefix or name, matched against each event (so the events of
  // a removed container still match).
  std::string container;
  std::vector<EventType> types;

  bool Matches(const EventRecord& event) const;
};

// One subscriber's buffer of live events.
class EventSubscription {
 public:
  EventSubscription(EventFilter filter, size_t limit, int64_t live_after,
                    std::function<void()> wake);

  // Every event with seq > live_after() arrives through this subscription.
  int64_t live_after() const { return live_after_; }

  // The next buffered event, or nullopt when there is none: then the wake callback is armed
  // and called once when an event arrives. RESOURCE_EXHAUSTED once the buffer overflowed.
  absl::StatusOr<std::optional<EventRecord>> Next();

  // Disarms a pending wake. True when one was armed (so no wake will come and the caller
  // owns the stream); false when an event is buffered or a wake is already on its way.
  bool Disarm();

 private:
  friend class EventBroadcaster;
  // Buffers `event` if it matches; returns whether the wake must be called.
  bool Push(const EventRecord& event);

  const EventFilter filter_;
  const size_t limit_;
  const int64_t live_after_;
  const std::function<void()> wake_;

  absl::Mutex mu_;
  std::deque<EventRecord> buffer_ ABSL_GUARDED_BY(mu_);
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
};

class EventBroadcaster {
 public:
  // Events a subscriber may have buffered before it is cut off.
  static constexpr size_t kDefaultBufferLimit = 4096;

  // `last_seq`: the newest seq already persisted (so subscribers know where live starts).
  explicit EventBroadcaster(int64_t last_seq, size_t buffer_limit = kDefaultBufferLimit);

  // Hands a committed event to every subscriber; called in seq order. Wake callbacks run
  // on this thread, under the broadcaster's lock, so Unsubscribe waits for them.
  void Publish(const EventRecord& event);

  // Registers a subscriber. `wake` must not block nor call Subscribe/Unsubscribe.
  std::shared_ptr<EventSubscription> Subscribe(EventFilter filter, std::function<void()> wake);

  // After this returns, the subscription's wake is never called again.
  void Unsubscribe(const std::shared_ptr<EventSubscription>& subscription);

  size_t subscriber_count() const;

 private:
  const size_t buffer_limit_;
  mutable absl::Mutex mu_;
  int64_t last_seq_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::shared_ptr<EventSubscription>> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quilt
