#include "quiltd/copy/copy_in.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "quiltd/copy/path_in_root.h"

namespace quilt {
namespace {

absl::Status Missing(absl::string_view what, absl::string_view path) {
  return absl::NotFoundError(absl::StrCat("copy into ", path, ": ", what, " does not exist"));
}

std::string Join(absl::string_view dir, absl::string_view name) {
  return absl::EndsWith(dir, "/") ? absl::StrCat(dir, name) : absl::StrCat(dir, "/", name);
}

// The contents of a directory (entries "." and "./..."): into `path`, which is made (0755)
// when missing and its parent exists.
absl::StatusOr<std::string> CopyContentsIntoRoot(int root_fd, const std::string& path,
                                                 const ChunkSource& source) {
  absl::StatusOr<UniqueFd> target = OpenInRoot(root_fd, path, O_PATH | O_DIRECTORY);
  if (!target.ok() && errno == ENOENT) {
    absl::string_view trimmed = path;
    while (trimmed.size() > 1 && absl::ConsumeSuffix(&trimmed, "/")) {
    }
    const size_t slash = trimmed.rfind('/');
    const std::string leaf(trimmed.substr(slash + 1));
    absl::StatusOr<UniqueFd> parent =
        OpenInRoot(root_fd, trimmed.substr(0, slash + 1), O_PATH | O_DIRECTORY);
    if (!parent.ok() && errno == ENOENT) return Missing("the parent directory", path);
    QUILT_RETURN_IF_ERROR(parent.status());
    if (leaf.empty() || leaf == "." || ::mkdirat(parent->get(), leaf.c_str(), 0755) != 0) {
      return ErrnoStatus(leaf.empty() || leaf == "." ? EEXIST : errno,
                         absl::StrCat("copy into ", path, ": create directory"));
    }
    target = OpenBeneath(parent->get(), leaf, O_PATH | O_DIRECTORY);
  }
  QUILT_RETURN_IF_ERROR(target.status());
  QUILT_RETURN_IF_ERROR(ExtractTar(source, target->get(), ExtractPlan{}));
  return path;
}

}  // namespace

absl::StatusOr<std::string> CopyIntoRoot(int root_fd, const std::string& path,
                                         const std::string& source_name,
                                         const ChunkSource& source) {
  if (source_name == ".") return CopyContentsIntoRoot(root_fd, path, source);
  ExtractPlan plan;
  plan.source_name = source_name;
  plan.target_name = source_name;
  absl::StatusOr<UniqueFd> target = OpenInRoot(root_fd, path, O_PATH);
  if (!target.ok() && errno != ENOENT) return target.status();
  struct stat st;
  if (target.ok() && ::fstat(target->get(), &st) != 0) return ErrnoStatus("stat destination");
  if (target.ok() && S_ISDIR(st.st_mode)) {
    QUILT_RETURN_IF_ERROR(ExtractTar(source, target->get(), plan));
    return source_name.empty() ? path : Join(path, source_name);
  }
  if (source_name.empty()) {
    if (target.ok()) return ErrnoStatus(ENOTDIR, absl::StrCat("copy into ", path));
    return Missing("the destination directory", path);
  }
  // Copy as `path`: the archive's top entry takes its name, in its parent directory.
  absl::string_view trimmed = path;
  if (absl::EndsWith(trimmed, "/")) return Missing("the destination directory", path);
  const size_t slash = trimmed.rfind('/');
  const absl::string_view parent = trimmed.substr(0, slash + 1);
  plan.target_name = std::string(trimmed.substr(slash + 1));
  if (plan.target_name.empty() || plan.target_name == ".") {
    return Missing("the destination directory", path);
  }
  absl::StatusOr<UniqueFd> parent_fd = OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY);
  if (!parent_fd.ok()) {
    if (errno == ENOENT) return Missing(absl::StrCat("the parent directory ", parent), path);
    return parent_fd.status();
  }
  QUILT_RETURN_IF_ERROR(ExtractTar(source, parent_fd->get(), plan));
  return path;
}

}  // namespace quilt
