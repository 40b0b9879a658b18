// Linux capability names and the set a container runs with: the default set Docker and
// Podman grant, changed by the spec's cap_add / cap_drop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quilt {

// CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE,
// SYS_CHROOT, SETFCAP: bit n is capability n.
inline constexpr uint64_t kDefaultCapabilities = 0x00000000800405fbULL;

// Returns the capability number for "NET_RAW", "cap_net_raw" (any case, prefix optional),
// or -1 when the name is unknown.
int CapabilityNumber(absl::string_view name);

// Returns "CAP_NET_RAW" for 13, or "CAP_<n>" for a number without a name.
std::string CapabilityName(int number);

// Names of the bits set in `mask`, lowest first ("CAP_CHOWN", ...).
std::vector<std::string> CapabilityNames(uint64_t mask);

// The default set minus `drop` plus `add`. "ALL" in `add` starts from every capability
// (the drops still apply); "ALL" in `drop` leaves only the capabilities `add` names. Fails with
// INVALID_ARGUMENT naming the field ("spec.cap_add[1]: unknown capability \"NET_RAWW\"").
absl::StatusOr<uint64_t> ResolveCapabilities(const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop);

}  // namespace quilt
