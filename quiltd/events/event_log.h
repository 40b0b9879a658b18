// The event history (persisted in the state store) and its live feed, for the Events RPC.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "quiltd/events/event_broadcaster.h"
#include "quiltd/store/state_store.h"

namespace quilt {

class EventLog {
 public:
  // Feeds every event `store` commits from now on to the broadcaster. `store` must outlive
  // the EventLog, which must outlive every subscription.
  static absl::StatusOr<std::unique_ptr<EventLog>> Create(StateStore* store);
  ~EventLog();

  EventBroadcaster& broadcaster() { return *broadcaster_; }

  // Up to `limit` persisted events after `after_seq`, oldest first.
  absl::StatusOr<std::vector<EventRecord>> After(int64_t after_seq, size_t limit) const {
    return store_->EventsAfter(after_seq, limit);
  }
  absl::StatusOr<StateStore::SeqRange> Range() const { return store_->EventSeqRange(); }

 private:
  EventLog(StateStore* store, std::unique_ptr<EventBroadcaster> broadcaster)
      : store_(store), broadcaster_(std::move(broadcaster)) {}

  StateStore* store_;
  std::unique_ptr<EventBroadcaster> broadcaster_;
};

}  // namespace quilt
