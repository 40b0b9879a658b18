#include "tests/integration/tree_snapshot.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace quilt::testing {
namespace {

// Files above this are recorded by size and mtime only: hashing them would be slow.
constexpr off_t kHashLimit = 1 << 20;

std::string Describe(const std::string& path, const struct stat& st) {
  std::string d = absl::StrCat(st.st_mode & S_IFMT, " ", st.st_mode & 07777, " ", st.st_uid, ":",
                               st.st_gid, " ");
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    const ssize_t n = ::readlink(path.c_str(), target, sizeof(target));
    absl::StrAppend(&d, "-> ", std::string(target, n > 0 ? static_cast<size_t>(n) : 0));
  } else if (S_ISREG(st.st_mode)) {
    absl::StrAppend(&d, st.st_size, " ");
    if (st.st_size <= kHashLimit) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream data;
      data << in.rdbuf();
      absl::StrAppend(&d, std::hash<std::string>()(data.str()));
    } else {
      absl::StrAppend(&d, st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
    }
  }
  return d;
}

void Walk(const std::string& root, const std::string& rel, const std::set<std::string>& skip,
          TreeSnapshot& out) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir((root + rel).c_str()), ::closedir);
  if (dir == nullptr) return;
  while (const struct dirent* ent = ::readdir(dir.get())) {
    const std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    const std::string child = rel + "/" + name;
    if (skip.count(child.substr(1)) != 0) continue;
    struct stat st;
    if (::lstat((root + child).c_str(), &st) != 0) continue;
    out[child] = Describe(root + child, st);
    if (S_ISDIR(st.st_mode)) Walk(root, child, skip, out);
  }
}

}  // namespace

TreeSnapshot SnapshotTree(const std::string& root, const std::set<std::string>& skip) {
  TreeSnapshot out;
  Walk(root, "", skip, out);
  return out;
}

std::string DiffSnapshots(const TreeSnapshot& before, const TreeSnapshot& after) {
  std::string diff;
  for (const auto& [path, desc] : before) {
    auto it = after.find(path);
    if (it == after.end() || it->second != desc)
      absl::StrAppend(&diff, "- ", path, ": ", desc, "\n");
  }
  for (const auto& [path, desc] : after) {
    auto it = before.find(path);
    if (it == before.end() || it->second != desc)
      absl::StrAppend(&diff, "+ ", path, ": ", desc, "\n");
  }
  return diff;
}

}  // namespace quilt::testing
