#include "quiltd/runtime/userns_range.h"

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quilt {
namespace {

// The last valid id plus one: (uid_t)-1 means "no change" to the kernel and is never mapped.
constexpr uint64_t kIdLimit = 0xFFFFFFFFull;

bool ParseDecimal(absl::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 10) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return absl::SimpleAtoi(text, out);
}

}  // namespace

bool IdRange::Overlaps(const IdRange& other) const {
  return uint64_t{host_id} < uint64_t{other.host_id} + other.size &&
         uint64_t{other.host_id} < uint64_t{host_id} + size;
}

std::string FormatIdRange(const IdRange& range) {
  return absl::StrCat(range.host_id, ":", range.size);
}

absl::StatusOr<IdRange> ParseIdRange(absl::string_view text, absl::string_view field,
                                     uint32_t min_size) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  IdRange range;
  if (parts.size() != 2 || !ParseDecimal(parts[0], &range.host_id) ||
      !ParseDecimal(parts[1], &range.size)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": want HOST_ID:COUNT in decimal, got \"", text, "\""));
  }
  if (range.host_id == 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": host id 0 would map host root"));
  }
  if (range.size < min_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": count ", range.size, " is below the minimum ", min_size));
  }
  if (uint64_t{range.host_id} + range.size > kIdLimit) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": range ends past id 4294967294"));
  }
  return range;
}

absl::StatusOr<UsernsRequest> ParseUserns(absl::string_view text) {
  UsernsRequest request;
  if (text.empty() || text == "host") return request;
  if (text == "auto") {
    request.mode = UsernsMode::kAuto;
    return request;
  }
  if (text.find(':') == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("spec.userns: want \"host\", \"auto\" or HOST_ID:COUNT, got \"", text, "\""));
  }
  auto range = ParseIdRange(text, "spec.userns", kUsernsSize);
  if (!range.ok()) return range.status();
  request.mode = UsernsMode::kExplicit;
  request.range = *range;
  return request;
}

absl::StatusOr<IdRange> ReadSubordinateRange(const std::string& path, absl::string_view user) {
  std::ifstream file(path);
  std::string line;
  while (file.is_open() && std::getline(file, line)) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    if (fields.size() != 3 || fields[0] != user) continue;
    auto range = ParseIdRange(absl::StrCat(fields[1], ":", fields[2]), path, kUsernsSize);
    if (range.ok()) return range;
  }
  return absl::NotFoundError(
      absl::StrCat("no range of ", kUsernsSize, " ids for ", user, " in ", path));
}

absl::Status CheckIdsMapped(const std::vector<uint32_t>& ids, uint32_t size,
                            absl::string_view field) {
  for (uint32_t id : ids) {
    if (id >= size) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": id ", id,
                       " is not mapped in the container's user namespace (ids 0..", size - 1, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<IdRange> PickFreeRange(const IdRange& pool, const std::vector<IdRange>& used,
                                      uint32_t size) {
  for (uint64_t start = pool.host_id; start + size <= uint64_t{pool.host_id} + pool.size;
       start += size) {
    IdRange candidate{static_cast<uint32_t>(start), size};
    bool taken = false;
    for (const IdRange& range : used) taken = taken || range.Overlaps(candidate);
    if (!taken) return candidate;
  }
  return absl::ResourceExhaustedError(absl::StrCat("spec.userns: every range of ", size,
                                                   " ids in the pool ", FormatIdRange(pool),
                                                   " is in use (see quiltd --userns-range)"));
}

}  // namespace quilt
