// Host id ranges for container user namespaces: parsing ContainerSpec.userns, the daemon's
// pool (--userns-range or /etc/subuid), and picking a free block for "auto".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quilt {

// Ids of one "auto" container, and the least an explicit range may map: every id an image
// commonly uses (nobody is 65534) must be mapped for its files to be usable.
constexpr uint32_t kUsernsSize = 65536;

// host_id .. host_id + size - 1, mapped to container ids 0 .. size - 1 (uids and gids alike).
struct IdRange {
  uint32_t host_id = 0;
  uint32_t size = 0;

  bool Overlaps(const IdRange& other) const;
  bool operator==(const IdRange& other) const = default;
};

// "HOST_ID:COUNT", as stored in a resolved spec.
std::string FormatIdRange(const IdRange& range);

// "START:COUNT" naming ids on the host; INVALID_ARGUMENT naming `field` unless both are
// decimal, START >= 1 (host root is never mapped), COUNT >= `min_size` and the range ends
// below 2^32 - 1 (the invalid id).
absl::StatusOr<IdRange> ParseIdRange(absl::string_view text, absl::string_view field,
                                     uint32_t min_size);

enum class UsernsMode { kHost, kAuto, kExplicit };
struct UsernsRequest {
  UsernsMode mode = UsernsMode::kHost;
  IdRange range;  // kExplicit only
};

// ContainerSpec.userns: "" or "host", "auto", or "HOST_ID:COUNT" (COUNT >= kUsernsSize).
// INVALID_ARGUMENT naming spec.userns otherwise.
absl::StatusOr<UsernsRequest> ParseUserns(absl::string_view text);

// The range of `user` in a subuid(5)-format file ("name:start:count" lines); the first one
// of at least kUsernsSize ids. NOT_FOUND when the file or the entry is missing.
absl::StatusOr<IdRange> ReadSubordinateRange(const std::string& path, absl::string_view user);

// INVALID_ARGUMENT naming `field` unless every id is below `size` (mapped by a range of that
// size): an unmapped id would fail the workload's setuid at start.
absl::Status CheckIdsMapped(const std::vector<uint32_t>& ids, uint32_t size,
                            absl::string_view field);

// The first block of `size` ids in `pool`, at a multiple of `size` from its start, that
// overlaps none of `used`. RESOURCE_EXHAUSTED when every block is taken.
absl::StatusOr<IdRange> PickFreeRange(const IdRange& pool, const std::vector<IdRange>& used,
                                      uint32_t size);

}  // namespace quilt
