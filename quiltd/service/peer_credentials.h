// Who is on the other end of an API connection: SO_PEERCRED of the Unix socket (the pid,
// uid and gid the kernel recorded at connect) and whether that peer may use the API.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quilt {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// SO_PEERCRED of a connected Unix socket.
absl::StatusOr<PeerCredentials> PeerCredentialsOf(int fd);

// The credentials of the connection a call came in on. Connections are handed to gRPC by
// fd (grpc::AddInsecureChannelFromFd), which names the call's peer "fd:<n>"; NOT_FOUND for
// any other peer.
absl::StatusOr<PeerCredentials> PeerCredentialsOfCall(absl::string_view grpc_peer);

// Whether the peer may use the API: root, or a member (primary or supplementary group, read
// from /proc/<pid>/status) of `api_group`.
bool MayUseApi(const PeerCredentials& peer, std::optional<gid_t> api_group);

// "pid=P uid=U gid=G", for log lines.
std::string DescribePeer(const PeerCredentials& peer);

// The gid of `name` in a group(5)-format file, parsed directly (quiltd may be linked
// statically, without NSS); nullopt when the file has no such group.
std::optional<gid_t> LookUpGroup(const std::string& group_file, absl::string_view name);

}  // namespace quilt
