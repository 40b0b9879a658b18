#include "quiltd/monitor/shifted_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/unique_fd.h"

namespace quilt {
namespace {

struct Shift {
  uint32_t base;
  uint32_t size;
  uint32_t operator()(uint32_t id) const { return id < size ? base + id : id; }
};

bool Fail(std::string* error, const std::string& what, const std::string& path) {
  const int saved = errno;
  *error = what + " " + path;
  errno = saved;
  return false;
}

bool CopyContent(int from, int to) {
  char buffer[65536];
  for (;;) {
    ssize_t n = read(from, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(to, buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return false;
      done += w;
    }
  }
}

// Owner first, then mode: chown clears the setuid and setgid bits.
bool SetAttributes(int dir, const char* name, const struct stat& st, const Shift& shift) {
  if (fchownat(dir, name, shift(st.st_uid), shift(st.st_gid), AT_SYMLINK_NOFOLLOW) != 0) {
    return false;
  }
  if (!S_ISLNK(st.st_mode) && fchmodat(dir, name, st.st_mode & 07777, 0) != 0) return false;
  const timespec times[2] = {st.st_atim, st.st_mtim};
  return utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) == 0;
}

// One entry of the tree: `from_name` in `from_dir` becomes `to_name` in `to_dir`.
struct Entry {
  int from_dir;
  const char* from_name;
  int to_dir;
  const char* to_name;
  std::string path;  // the source's path, for messages
};

bool CopyEntry(const Entry& entry, const Shift& shift, std::string* error);

bool CopyDirectory(const Entry& e, const Shift& shift, std::string* error) {
  const std::string& path = e.path;
  if (mkdirat(e.to_dir, e.to_name, 0700) != 0) return Fail(error, "mkdir", path);
  UniqueFd from(openat(e.from_dir, e.from_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  UniqueFd to(openat(e.to_dir, e.to_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!from.valid() || !to.valid()) return Fail(error, "open", path);
  DIR* listing = fdopendir(dup(from.get()));
  if (listing == nullptr) return Fail(error, "list", path);
  bool ok = true;
  while (ok) {
    errno = 0;
    dirent* entry = readdir(listing);
    if (entry == nullptr) {
      ok = errno == 0 || Fail(error, "list", path);
      break;
    }
    const std::string child = entry->d_name;
    if (child == "." || child == "..") continue;
    ok = CopyEntry({from.get(), entry->d_name, to.get(), entry->d_name, path + "/" + child}, shift,
                   error);
  }
  closedir(listing);
  return ok;
}

bool CopyEntry(const Entry& e, const Shift& shift, std::string* error) {
  const std::string& path = e.path;
  struct stat st {};
  if (fstatat(e.from_dir, e.from_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return Fail(error, "stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    if (!CopyDirectory(e, shift, error)) return false;
  } else if (S_ISREG(st.st_mode)) {
    UniqueFd from(openat(e.from_dir, e.from_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    UniqueFd to(
        openat(e.to_dir, e.to_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!from.valid() || !to.valid() || !CopyContent(from.get(), to.get())) {
      return Fail(error, "copy", path);
    }
  } else if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    const ssize_t n = readlinkat(e.from_dir, e.from_name, target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) >= target.size()) return Fail(error, "readlink", path);
    target.resize(static_cast<size_t>(n));
    if (symlinkat(target.c_str(), e.to_dir, e.to_name) != 0) return Fail(error, "symlink", path);
  } else if (mknodat(e.to_dir, e.to_name, st.st_mode & S_IFMT, st.st_rdev) != 0) {
    return Fail(error, "mknod", path);
  }
  return SetAttributes(e.to_dir, e.to_name, st, shift) ||
         Fail(error, "set owner and mode of", path);
}

}  // namespace

bool CopyShifted(const std::string& from, const std::string& to, uint32_t shift, uint32_t size,
                 std::string* error) {
  const size_t from_slash = from.rfind('/');
  const size_t to_slash = to.rfind('/');
  if (from_slash == std::string::npos || to_slash == std::string::npos) {
    errno = EINVAL;
    return Fail(error, "copy", from);
  }
  const std::string from_parent = from_slash == 0 ? "/" : from.substr(0, from_slash);
  const std::string to_parent = to_slash == 0 ? "/" : to.substr(0, to_slash);
  UniqueFd from_dir(open(from_parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd to_dir(open(to_parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!from_dir.valid() || !to_dir.valid()) return Fail(error, "open", from);
  const std::string from_name = from.substr(from_slash + 1);
  const std::string to_name = to.substr(to_slash + 1);
  return CopyEntry({from_dir.get(), from_name.c_str(), to_dir.get(), to_name.c_str(), from},
                   Shift{shift, size}, error);
}

}  // namespace quilt
