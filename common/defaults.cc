#include "common/defaults.h"

#include <cstdlib>

namespace quilt {
namespace {

std::string EnvOr(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return (value != nullptr && *value != '\0') ? value : fallback;
}

}  // namespace

std::string SocketFromEnv() { return EnvOr(kSocketEnv, kDefaultSocket); }
std::string StateDirFromEnv() { return EnvOr(kStateDirEnv, kDefaultStateDir); }
std::string UnixTarget(const std::string& socket_path) { return "unix:" + socket_path; }

}  // namespace quilt
