#include "common/resource_limits.h"

#include <iterator>

namespace quilt {
namespace {

struct Entry {
  const char* name;
  int resource;
};

constexpr Entry kLimits[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

}  // namespace

std::optional<int> ResourceLimitByName(std::string_view name) {
  for (const Entry& entry : kLimits) {
    if (name == entry.name) return entry.resource;
  }
  return std::nullopt;
}

std::string ResourceLimitName(int resource) {
  for (const Entry& entry : kLimits) {
    if (resource == entry.resource) return entry.name;
  }
  return "";
}

std::vector<std::string> ResourceLimitNames() {
  std::vector<std::string> names;
  names.reserve(std::size(kLimits));
  for (const Entry& entry : kLimits) names.push_back(entry.name);
  return names;
}

}  // namespace quilt
