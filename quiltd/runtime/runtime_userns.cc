// User namespace ranges of containers. The range a container got is kept in its stored spec
// (spec.userns, "HOST_ID:COUNT"), so it lives exactly as long as the container's row: it
// survives a restart of quiltd and is free again once the container is removed.
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

absl::StatusOr<std::vector<IdRange>> Runtime::UsernsRangesInUse() const {
  QUILT_ASSIGN_OR_RETURN(std::vector<ContainerRecord> records, store_->List());
  std::vector<IdRange> used;
  for (const ContainerRecord& record : records) {
    v1::ContainerSpec spec;
    if (!spec.ParseFromString(record.spec)) continue;
    absl::StatusOr<UsernsRequest> request = ParseUserns(spec.userns());
    if (request.ok() && request->mode == UsernsMode::kExplicit) used.push_back(request->range);
  }
  return used;
}

absl::Status Runtime::ResolveUserns(v1::ContainerSpec* spec, const ResolvedUser& user) const {
  QUILT_ASSIGN_OR_RETURN(UsernsRequest request, ParseUserns(spec->userns()));
  if (request.mode == UsernsMode::kHost) return absl::OkStatus();
  if (request.mode == UsernsMode::kAuto) {
    if (options_.userns_pool.size == 0) {
      return absl::FailedPreconditionError(
          "spec.userns: \"auto\" needs a pool of host ids: start quiltd with --userns-range or "
          "give the user \"quilt\" an entry in /etc/subuid");
    }
    QUILT_ASSIGN_OR_RETURN(std::vector<IdRange> used, UsernsRangesInUse());
    QUILT_ASSIGN_OR_RETURN(request.range, PickFreeRange(options_.userns_pool, used, kUsernsSize));
  }
  QUILT_RETURN_IF_ERROR(CheckIdsMapped(IdsOf(user), request.range.size, "spec.user"));
  spec->set_userns(FormatIdRange(request.range));
  return absl::OkStatus();
}

}  // namespace quilt
