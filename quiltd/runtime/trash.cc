#include "quiltd/runtime/trash.h"

#include <stdio.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace quilt {

absl::StatusOr<std::unique_ptr<Trash>> Trash::Open(const std::string& dir) {
  QUILT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::unique_ptr<Trash> trash(new Trash(dir));
  QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> leftovers, ListDir(dir));
  for (const std::string& name : leftovers) trash->DeleteLater(absl::StrCat(dir, "/", name));
  return trash;
}

absl::Status Trash::Discard(const std::string& path) {
  const size_t slash = path.rfind('/');
  // Unique across runs too: the clock, then a counter for discards within one tick.
  const std::string target = absl::StrCat(dir_, "/", path.substr(slash + 1), ".",
                                          absl::GetCurrentTimeNanos(), ".", next_.fetch_add(1));
  if (::rename(path.c_str(), target.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("move ", path, " to the trash"));
  }
  DeleteLater(target);
  return absl::OkStatus();
}

void Trash::Drain() {
  absl::Notification done;
  deleter_.Schedule([&done] { done.Notify(); });
  done.WaitForNotification();
}

void Trash::DeleteLater(const std::string& path) {
  deleter_.Schedule([path] {
    if (absl::Status s = RemoveTree(path); !s.ok()) QUILT_LOG(WARNING) << "empty trash: " << s;
  });
}

}  // namespace quilt
