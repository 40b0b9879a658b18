#include "quiltd/service/wait_reactor.h"

#include "quiltd/service/proto_conversion.h"
#include "quiltd/service/status_conversion.h"

namespace quilt {

WaitReactor::WaitReactor(Runtime* runtime, const std::string& ref, v1::WaitResponse* response) {
  // Until the call is finished the reactor exists (OnDone follows Finish), so the callback
  // may use it after winning the claim.
  runtime->Wait(ref, [this, outcome = outcome_, response](absl::StatusOr<ContainerRecord> record) {
    if (!Claim(*outcome)) return;
    if (record.ok()) *response->mutable_container() = ToProto(*record);
    Finish(ToGrpcStatus(record.status()));
  });
}

void WaitReactor::OnCancel() {
  if (Claim(*outcome_)) Finish(grpc::Status::CANCELLED);
}

bool WaitReactor::Claim(Outcome& outcome) {
  absl::MutexLock lock(&outcome.mu);
  if (outcome.finished) return false;
  outcome.finished = true;
  return true;
}

}  // namespace quilt
