#include "quiltd/events/event_log.h"

#include "common/status_macros.h"

namespace quilt {

absl::StatusOr<std::unique_ptr<EventLog>> EventLog::Create(StateStore* store) {
  QUILT_ASSIGN_OR_RETURN(StateStore::SeqRange range, store->EventSeqRange());
  auto broadcaster = std::make_unique<EventBroadcaster>(range.newest);
  EventBroadcaster* raw = broadcaster.get();
  // The sink runs under the store's lock right after each commit, so the broadcaster sees
  // events in seq order and a subscriber's starting seq splits history from live exactly.
  store->SetEventSink([raw](const EventRecord& event) { raw->Publish(event); });
  return std::unique_ptr<EventLog>(new EventLog(store, std::move(broadcaster)));
}

EventLog::~EventLog() { store_->SetEventSink(nullptr); }

}  // namespace quilt
