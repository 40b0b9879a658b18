// The resource limits (setrlimit(2)) a container's processes can be given, by the names
// Docker's --ulimit and the OCI runtime spec use: lowercase, without "RLIMIT_".
// Free of Abseil: the monitor links it.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace quilt {

struct ResourceLimit {
  int resource = 0;  // RLIMIT_*
  rlim_t soft = 0;   // RLIM_INFINITY: unlimited
  rlim_t hard = 0;
};

// The RLIMIT_* number of `name` ("nofile", "nproc", ...); nullopt for an unknown name.
std::optional<int> ResourceLimitByName(std::string_view name);

// The name of an RLIMIT_* number; empty for one not in the table.
std::string ResourceLimitName(int resource);

// Every known name, in the table's order (for messages).
std::vector<std::string> ResourceLimitNames();

// The API's form of a limit value, where -1 is unlimited, and back.
inline rlim_t RlimFromApi(int64_t value) {
  return value < 0 ? RLIM_INFINITY : static_cast<rlim_t>(value);
}
inline int64_t RlimToApi(rlim_t value) {
  return value == RLIM_INFINITY ? -1 : static_cast<int64_t>(value);
}

}  // namespace quilt
