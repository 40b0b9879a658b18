#include "quiltd/events/event_broadcaster.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace quilt {

bool EventFilter::Matches(const EventRecord& event) const {
  if (!types.empty() && std::find(types.begin(), types.end(), event.type) == types.end()) {
    return false;
  }
  if (container.empty()) return true;
  if (event.container_id.empty()) return false;  // image events belong to no container
  return event.name == container || absl::StartsWith(event.container_id, container);
}

EventSubscription::EventSubscription(EventFilter filter, size_t limit, int64_t live_after,
                                     std::function<void()> wake)
    : filter_(std::move(filter)), limit_(limit), live_after_(live_after), wake_(std::move(wake)) {}

absl::StatusOr<std::optional<EventRecord>> EventSubscription::Next() {
  absl::MutexLock lock(&mu_);
  if (overflowed_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("events: this client fell more than ", limit_, " events behind"));
  }
  if (buffer_.empty()) {
    armed_ = true;
    return std::nullopt;
  }
  EventRecord event = std::move(buffer_.front());
  buffer_.pop_front();
  return event;
}

bool EventSubscription::Disarm() {
  absl::MutexLock lock(&mu_);
  const bool was_armed = armed_;
  armed_ = false;
  return was_armed;
}

bool EventSubscription::Push(const EventRecord& event) {
  if (!filter_.Matches(event)) return false;
  absl::MutexLock lock(&mu_);
  if (overflowed_) return false;
  if (buffer_.size() >= limit_) {
    // Keeping more would let one stuck client grow the daemon without bound; the events are
    // in the store, so the client loses nothing by resuming from there.
    overflowed_ = true;
    buffer_.clear();
  } else {
    buffer_.push_back(event);
  }
  const bool wake = armed_;
  armed_ = false;
  return wake;
}

EventBroadcaster::EventBroadcaster(int64_t last_seq, size_t buffer_limit)
    : buffer_limit_(buffer_limit), last_seq_(last_seq) {}

void EventBroadcaster::Publish(const EventRecord& event) {
  absl::MutexLock lock(&mu_);
  last_seq_ = event.seq;
  for (const std::shared_ptr<EventSubscription>& subscriber : subscribers_) {
    if (subscriber->Push(event)) subscriber->wake_();
  }
}

std::shared_ptr<EventSubscription> EventBroadcaster::Subscribe(EventFilter filter,
                                                               std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  auto subscription = std::make_shared<EventSubscription>(std::move(filter), buffer_limit_,
                                                          last_seq_, std::move(wake));
  subscribers_.insert(subscription);
  return subscription;
}

void EventBroadcaster::Unsubscribe(const std::shared_ptr<EventSubscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(subscription);
}

size_t EventBroadcaster::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

}  // namespace quilt
