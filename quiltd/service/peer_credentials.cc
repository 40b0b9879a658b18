#include "quiltd/service/peer_credentials.h"

#include <sys/socket.h>

#include <fstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace quilt {
namespace {

// Supplementary groups of a live process, from the "Groups:" line of /proc/<pid>/status.
std::vector<gid_t> SupplementaryGroups(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  std::vector<gid_t> groups;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "Groups:")) continue;
    for (absl::string_view word : absl::StrSplit(rest, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      gid_t gid = 0;
      if (absl::SimpleAtoi(word, &gid)) groups.push_back(gid);
    }
    break;
  }
  return groups;
}

}  // namespace

absl::StatusOr<PeerCredentials> PeerCredentialsOf(int fd) {
  ucred cred{};
  socklen_t size = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) != 0) {
    return ErrnoStatus(absl::StrCat("read peer credentials of fd ", fd));
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

absl::StatusOr<PeerCredentials> PeerCredentialsOfCall(absl::string_view grpc_peer) {
  int fd = -1;
  if (!absl::ConsumePrefix(&grpc_peer, "fd:") || !absl::SimpleAtoi(grpc_peer, &fd) || fd < 0) {
    return absl::NotFoundError(absl::StrCat("no credentials for peer \"", grpc_peer, "\""));
  }
  return PeerCredentialsOf(fd);
}

bool MayUseApi(const PeerCredentials& peer, std::optional<gid_t> api_group) {
  if (peer.uid == 0) return true;
  if (!api_group.has_value()) return false;
  if (peer.gid == *api_group) return true;
  for (gid_t gid : SupplementaryGroups(peer.pid)) {
    if (gid == *api_group) return true;
  }
  return false;
}

std::string DescribePeer(const PeerCredentials& peer) {
  return absl::StrCat("pid=", peer.pid, " uid=", peer.uid, " gid=", peer.gid);
}

std::optional<gid_t> LookUpGroup(const std::string& group_file, absl::string_view name) {
  std::ifstream file(group_file);
  std::string line;
  while (std::getline(file, line)) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ':');
    gid_t gid = 0;
    if (fields.size() >= 3 && fields[0] == name && absl::SimpleAtoi(fields[2], &gid)) return gid;
  }
  return std::nullopt;
}

}  // namespace quilt
