#include "quiltd/runtime/user_resolver.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/unique_fd.h"

namespace quilt {
namespace {

// Opens `path` inside the tree at `root_dir` (RESOLVE_IN_ROOT: the image's symlinks cannot
// lead out); -1 with errno on failure.
UniqueFd OpenInRoot(const std::string& root_dir, const std::string& path, int flags) {
  UniqueFd root(::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return UniqueFd();
  open_how how{};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return UniqueFd(
      static_cast<int>(::syscall(SYS_openat2, root.get(), path.c_str(), &how, sizeof(how))));
}

// True when the directory holding `path` in this layer hides the layers below it.
bool ParentIsOpaque(const std::string& layer_dir, const std::string& path) {
  UniqueFd parent(OpenInRoot(layer_dir, path.substr(0, path.rfind('/') + 1), O_RDONLY));
  char value = 0;
  return parent &&
         ::fgetxattr(parent.get(), "trusted.overlay.opaque", &value, sizeof(value)) == 1 &&
         value == 'y';
}

// The contents of `path` in the overlay of `layer_dirs` (topmost first), or empty when absent
// (a whiteout or an opaque directory hides it), unreadable or too large.
std::string ReadInLayers(const std::vector<std::string>& layer_dirs, const std::string& path) {
  for (const std::string& layer : layer_dirs) {
    UniqueFd fd = OpenInRoot(layer, path, O_RDONLY);
    if (!fd) {
      // Anything but "not in this layer" (a whiteout's device node gives ENXIO) ends the search.
      if (errno != ENOENT || ParentIsOpaque(layer, path)) return "";
      continue;
    }
    std::string text;
    char buf[8192];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > (4 << 20)) return "";  // not a passwd file anyone should trust
    }
    return text;
  }
  return "";
}

std::optional<uint32_t> ParseId(absl::string_view s) {
  uint32_t v = 0;
  if (s.empty() || !absl::SimpleAtoi(s, &v) || v == UINT32_MAX) return std::nullopt;
  return v;
}

struct PasswdEntry {
  uid_t uid;
  gid_t gid;
  std::string home;
};

// Finds a passwd entry by name (when `name` is set) or by uid.
std::optional<PasswdEntry> FindPasswd(const std::string& passwd, const std::string* name,
                                      uid_t uid) {
  for (absl::string_view line : absl::StrSplit(passwd, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() < 7) continue;
    auto entry_uid = ParseId(f[2]);
    auto entry_gid = ParseId(f[3]);
    if (!entry_uid || !entry_gid) continue;
    if (name != nullptr ? f[0] == *name : *entry_uid == uid) {
      return PasswdEntry{*entry_uid, *entry_gid, std::string(f[5])};
    }
  }
  return std::nullopt;
}

std::optional<gid_t> FindGroup(const std::string& group, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(group, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() >= 3 && f[0] == name) {
      if (auto gid = ParseId(f[2])) return *gid;
    }
  }
  return std::nullopt;
}

// Groups that list `user_name` as a member (the supplementary groups a login would get).
std::vector<gid_t> MemberGroups(const std::string& group, const std::string& user_name,
                                gid_t primary) {
  std::vector<gid_t> gids;
  for (absl::string_view line : absl::StrSplit(group, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ':');
    if (f.size() < 4) continue;
    auto gid = ParseId(f[2]);
    if (!gid || *gid == primary) continue;
    for (absl::string_view member : absl::StrSplit(f[3], ',')) {
      if (member == user_name) gids.push_back(*gid);
    }
  }
  return gids;
}

absl::Status Unknown(absl::string_view what, absl::string_view name) {
  return absl::InvalidArgumentError(
      absl::StrCat("spec.user: no ", what, " \"", name, "\" in the image"));
}

}  // namespace

absl::StatusOr<ResolvedUser> ResolveUser(const std::vector<std::string>& layer_dirs,
                                         const std::string& user) {
  ResolvedUser out;
  if (user.empty()) return out;
  const std::vector<std::string> parts = absl::StrSplit(user, absl::MaxSplits(':', 1));
  const std::string& user_part = parts[0];
  if (user_part.empty()) return absl::InvalidArgumentError("spec.user: empty user before ':'");

  const std::string passwd = ReadInLayers(layer_dirs, "/etc/passwd");
  std::string user_name;
  if (auto uid = ParseId(user_part)) {
    out.uid = *uid;
    // A numeric uid needs no passwd entry; when there is one, take its group and home.
    if (auto entry = FindPasswd(passwd, nullptr, *uid)) {
      out.gid = entry->gid;
      out.home = entry->home;
    } else {
      out.gid = *uid;
      out.home.assign(1, '/');
    }
  } else {
    auto entry = FindPasswd(passwd, &user_part, 0);
    if (!entry) return Unknown("user", user_part);
    out.uid = entry->uid;
    out.gid = entry->gid;
    out.home = entry->home;
    user_name = user_part;
  }

  const std::string group = ReadInLayers(layer_dirs, "/etc/group");
  if (parts.size() == 2) {
    const std::string& group_part = parts[1];
    if (auto gid = ParseId(group_part)) {
      out.gid = *gid;
    } else if (auto named = FindGroup(group, group_part)) {
      out.gid = *named;
    } else {
      return Unknown("group", group_part);
    }
  }
  if (!user_name.empty()) out.additional_gids = MemberGroups(group, user_name, out.gid);
  if (out.home.empty()) out.home.assign(1, '/');
  return out;
}

std::vector<uint32_t> IdsOf(const ResolvedUser& user) {
  std::vector<uint32_t> ids = {user.uid, user.gid};
  ids.insert(ids.end(), user.additional_gids.begin(), user.additional_gids.end());
  return ids;
}

}  // namespace quilt
