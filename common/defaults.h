// Default locations shared by quiltd and its clients.
#pragma once

#include <string>

namespace quilt {

inline constexpr char kDefaultSocket[] = "/run/quilt/quilt.sock";
inline constexpr char kDefaultStateDir[] = "/var/lib/quilt";
inline constexpr char kSocketEnv[] = "QUILT_SOCKET";
inline constexpr char kStateDirEnv[] = "QUILT_STATE_DIR";

// $QUILT_SOCKET if set and non-empty, else kDefaultSocket.
std::string SocketFromEnv();

// $QUILT_STATE_DIR if set and non-empty, else kDefaultStateDir.
std::string StateDirFromEnv();

// "unix:" + path, the gRPC target for a Unix socket path.
std::string UnixTarget(const std::string& socket_path);

}  // namespace quilt
