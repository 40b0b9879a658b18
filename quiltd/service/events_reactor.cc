#include "quiltd/service/events_reactor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {
namespace {

// Events read from the store per query during a replay.
constexpr size_t kReplayPage = 256;

EventFilter FilterOf(const v1::EventsRequest& request) {
  EventFilter filter;
  filter.container = request.container();
  for (int type : request.types()) filter.types.push_back(static_cast<EventType>(type));
  return filter;
}

void ToProto(const EventRecord& event, v1::Event* out) {
  out->Clear();
  out->set_seq(event.seq);
  out->mutable_time()->set_seconds(event.time_ns / 1'000'000'000);
  out->mutable_time()->set_nanos(static_cast<int32_t>(event.time_ns % 1'000'000'000));
  out->set_type(static_cast<v1::EventType>(event.type));
  out->set_container_id(event.container_id);
  out->set_name(event.name);
  out->set_image(event.image);
  out->set_exit_code(event.exit_code);
  out->set_signal(event.signal);
  out->set_reason(event.reason);
  out->set_message(event.message);
}

}  // namespace

EventsReactor::EventsReactor(EventLog* log, const v1::EventsRequest& request)
    : log_(log), filter_(FilterOf(request)), replay_only_(request.replay_only()) {
  absl::Status status = ValidateEventsRequest(request);
  if (!status.ok()) {
    FinishOnce(ToGrpcStatus(status));
    return;
  }
  subscription_ = log_->broadcaster().Subscribe(filter_, [this] { SendNext(); });
  last_sent_ = request.has_since_seq() ? request.since_seq() : subscription_->live_after();
  if (request.has_since_seq()) status = StartReplay(request.since_seq());
  if (!status.ok()) {
    FinishOnce(ToGrpcStatus(status));
    return;
  }
  SendNext();
}

absl::Status EventsReactor::StartReplay(int64_t since_seq) {
  QUILT_ASSIGN_OR_RETURN(StateStore::SeqRange range, log_->Range());
  const int64_t newest = subscription_->live_after();
  if (since_seq > newest) {
    return absl::OutOfRangeError(
        absl::StrCat("since_seq: ", since_seq, " is after the newest event (", newest, ")"));
  }
  // since_seq 0 asks for everything kept; a later seq whose successor was pruned would be a
  // silent gap, so it is refused instead.
  if (since_seq > 0 && range.oldest > since_seq + 1) {
    return absl::OutOfRangeError(absl::StrCat("since_seq: events up to ", range.oldest - 1,
                                              " were pruned (the oldest kept is ", range.oldest,
                                              ")"));
  }
  replaying_ = true;
  replay_cursor_ = since_seq;
  replay_end_ = newest;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<EventRecord>> EventsReactor::Next() {
  while (replaying_) {
    if (replay_page_.empty()) {
      if (replay_cursor_ >= replay_end_) {
        replaying_ = false;
        break;
      }
      QUILT_ASSIGN_OR_RETURN(std::vector<EventRecord> page,
                             log_->After(replay_cursor_, kReplayPage));
      if (page.empty()) {
        replaying_ = false;
        break;
      }
      replay_cursor_ = page.back().seq;
      for (EventRecord& event : page) {
        if (event.seq <= replay_end_ && filter_.Matches(event)) {
          replay_page_.push_back(std::move(event));
        }
      }
      continue;
    }
    EventRecord event = std::move(replay_page_.front());
    replay_page_.pop_front();
    return event;
  }
  if (replay_only_) return std::nullopt;
  absl::StatusOr<std::optional<EventRecord>> live = subscription_->Next();
  if (!live.ok()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(live.status().message(), "; resume with since_seq=", last_sent_));
  }
  return live;
}

void EventsReactor::SendNext() {
  absl::StatusOr<std::optional<EventRecord>> next = Next();
  if (!next.ok()) return FinishOnce(ToGrpcStatus(next.status()));
  if (!next->has_value()) {
    if (replay_only_) FinishOnce(grpc::Status::OK);
    // Otherwise the subscription's wake is armed and calls SendNext again.
    return;
  }
  last_sent_ = (*next)->seq;
  ToProto(**next, &out_);
  StartWrite(&out_);
}

void EventsReactor::OnWriteDone(bool ok) {
  if (!ok) return FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  SendNext();
}

// A cancelled client either has a write in flight (OnWriteDone(false) finishes), or a wake
// is on its way (it writes, and that write fails), or the stream waits on an armed wake:
// disarming it makes this the only one left to finish.
void EventsReactor::OnCancel() {
  if (subscription_ != nullptr && subscription_->Disarm()) {
    FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
  }
}

void EventsReactor::FinishOnce(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    finished_ = true;
  }
  Finish(status);
}

void EventsReactor::OnDone() {
  if (subscription_ != nullptr) log_->broadcaster().Unsubscribe(subscription_);
  delete this;
}

}  // namespace quilt
