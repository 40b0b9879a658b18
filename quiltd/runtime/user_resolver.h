// Turns a spec's "user" ("uid", "uid:gid", "name", "name:group") into numeric ids using the
// image's own /etc/passwd and /etc/group (never the host's NSS: names mean what the image says).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quilt {

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;
  std::string home = "/root";
};

// Resolves `user` against the passwd and group files of the image whose tree is the overlay
// of `layer_dirs` (topmost first; one directory for a plain rootfs). Files are opened inside
// each layer (RESOLVE_IN_ROOT) so an image symlink cannot make quiltd read a host file;
// whiteouts and opaque directories hide lower layers as in overlayfs. INVALID_ARGUMENT
// naming spec.user when a name is unknown or a number is bad.
absl::StatusOr<ResolvedUser> ResolveUser(const std::vector<std::string>& layer_dirs,
                                         const std::string& user);

// The uid, the gid and the supplementary gids, in that order.
std::vector<uint32_t> IdsOf(const ResolvedUser& user);

}  // namespace quilt
