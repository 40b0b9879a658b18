// Streams lifecycle events: the persisted ones after since_seq (read from the store a page
// at a time), then live ones from the broadcaster. The subscription is taken before the
// replay starts and the replay stops at the seq where live delivery begins, so no event is
// missed or sent twice. Waiting for an event is a broadcaster wake, never a blocked thread.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/events/event_log.h"

namespace quilt {

class EventsReactor final : public grpc::ServerWriteReactor<v1::Event> {
 public:
  EventsReactor(EventLog* log, const v1::EventsRequest& request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Checks since_seq against what the store still has and sets up the replay.
  absl::Status StartReplay(int64_t since_seq);
  // The next event to send: replayed, then live. nullopt when there is none now (the
  // subscription's wake is then armed, unless replay_only).
  absl::StatusOr<std::optional<EventRecord>> Next();
  // Sends the next event, finishes, or leaves the wake armed.
  void SendNext();
  void FinishOnce(const grpc::Status& status);

  EventLog* log_;
  const EventFilter filter_;
  const bool replay_only_;
  std::shared_ptr<EventSubscription> subscription_;

  // Replay: persisted events in (replay_cursor_, replay_end_], read a page at a time.
  bool replaying_ = false;
  int64_t replay_cursor_ = 0;
  int64_t replay_end_ = 0;
  std::deque<EventRecord> replay_page_;

  int64_t last_sent_ = 0;  // for the resume hint when the client falls behind
  v1::Event out_;

  absl::Mutex mu_;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
