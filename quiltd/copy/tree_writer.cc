#include "quiltd/copy/tree_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "quiltd/copy/path_in_root.h"

namespace quilt {
namespace {

constexpr size_t kMaxEchoedBytes = 256;

std::string EchoName(absl::string_view name) {
  if (name.size() <= kMaxEchoedBytes) return std::string(name);
  size_t cut = kMaxEchoedBytes;
  // Back off to a UTF-8 character boundary.
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) --cut;
  return absl::StrCat(name.substr(0, cut), "...");
}

timespec MtimeOf(struct archive_entry* entry) {
  return {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
}

uid_t UidOf(struct archive_entry* entry) { return static_cast<uid_t>(archive_entry_uid(entry)); }
gid_t GidOf(struct archive_entry* entry) { return static_cast<gid_t>(archive_entry_gid(entry)); }

// The first `count` components as one relative path.
std::string JoinFirst(const std::vector<std::string>& parts, size_t count) {
  return absl::StrJoin(parts.begin(), parts.begin() + static_cast<ptrdiff_t>(count), "/");
}

bool SamePrefix(const std::vector<std::string>& cached, const std::vector<std::string>& parts,
                size_t count) {
  return cached.size() == count && std::equal(cached.begin(), cached.end(), parts.begin());
}

}  // namespace

std::string EntryContext(absl::string_view name) {
  return absl::StrCat("entry \"", EchoName(name), "\": ");
}

absl::Status EntryError(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(EntryContext(name), why));
}

absl::Status EntryErrno(absl::string_view name, absl::string_view what) {
  if (errno == ELOOP) return EntryError(name, "path goes through a symlink");
  if (errno == ENOTDIR) return EntryError(name, "a parent is not a directory");
  return ErrnoStatus(absl::StrCat(EntryContext(name), what));
}

TreeWriter::TreeWriter(int dest_fd, Placement place, ReadError read_error,
                       const TreeWriterOptions& options)
    : dest_fd_(dest_fd),
      place_(std::move(place)),
      read_error_(std::move(read_error)),
      writeback_(options.start_writeback ? std::make_unique<Writeback>() : nullptr),
      replace_across_types_(options.replace_across_types),
      as_root_(::geteuid() == 0) {}

absl::Status TreeWriter::Write(struct archive* reader, struct archive_entry* entry) {
  const char* raw = archive_entry_pathname(entry);
  const absl::string_view name = raw == nullptr ? "" : raw;
  QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> parts, place_(name));
  const mode_t type = archive_entry_filetype(entry);
  const char* hardlink = archive_entry_hardlink(entry);
  if (parts.empty()) {
    if (type == AE_IFDIR && hardlink == nullptr) return absl::OkStatus();
    return EntryError(name, "non-directory at the root");
  }
  if (hardlink == nullptr && type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK &&
      type != AE_IFIFO) {
    return EntryError(name, "device node or socket");
  }
  QUILT_ASSIGN_OR_RETURN(const int parent, OpenDir(name, parts, parts.size() - 1));
  if (hardlink != nullptr) return MakeHardLink(name, hardlink, parent, parts.back());
  switch (type) {
    case AE_IFDIR:
      return MakeDirectory(name, entry, parts, parent);
    case AE_IFREG:
      return WriteFile(reader, name, entry, parent, parts.back());
    case AE_IFLNK:
      return MakeSymlink(name, entry, parent, parts.back());
    default:
      return MakeFifo(name, entry, parent, parts.back());
  }
}

absl::StatusOr<int> TreeWriter::Directory(absl::string_view name,
                                          const std::vector<std::string>& parts) {
  return OpenDir(name, parts, parts.size());
}

absl::StatusOr<int> TreeWriter::OpenDir(absl::string_view name,
                                        const std::vector<std::string>& parts, size_t count) {
  if (dir_fd_.valid() && SamePrefix(dir_parts_, parts, count)) return dir_fd_.get();
  dir_fd_.Reset();
  // Usually every directory on the way exists: one openat2 for the whole path.
  absl::StatusOr<UniqueFd> dir =
      OpenBeneath(dest_fd_, count == 0 ? "." : JoinFirst(parts, count), O_PATH | O_DIRECTORY);
  if (!dir.ok() && errno == ENOENT) dir = WalkCreating(parts, count);
  if (!dir.ok()) return EntryErrno(name, "open parent directory");
  dir_fd_ = *std::move(dir);
  dir_parts_.assign(parts.begin(), parts.begin() + static_cast<ptrdiff_t>(count));
  return dir_fd_.get();
}

// A tar need not list every parent: the missing ones are made, one component at a time.
absl::StatusOr<UniqueFd> TreeWriter::WalkCreating(const std::vector<std::string>& parts,
                                                  size_t count) {
  UniqueFd dir(::fcntl(dest_fd_, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return ErrnoStatus("dup destination");
  for (size_t i = 0; i < count; ++i) {
    absl::StatusOr<UniqueFd> next = OpenBeneath(dir.get(), parts[i], O_PATH | O_DIRECTORY);
    if (!next.ok() && errno == ENOENT) {
      if (::mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
        return ErrnoStatus("create directory");
      }
      next = OpenBeneath(dir.get(), parts[i], O_PATH | O_DIRECTORY);
    }
    if (!next.ok()) return next.status();
    dir = *std::move(next);
  }
  return dir;
}

absl::Status TreeWriter::Replace(absl::string_view name, int parent, const std::string& leaf) {
  struct stat st;
  if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryErrno(name, "stat");
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(parent, leaf.c_str(), 0) != 0) return EntryErrno(name, "replace");
    return absl::OkStatus();
  }
  if (!replace_across_types_) {
    return EntryError(name, "cannot overwrite a directory with a non-directory");
  }
  if (::unlinkat(parent, leaf.c_str(), AT_REMOVEDIR) != 0) {
    if (errno == ENOTEMPTY) return EntryError(name, "cannot overwrite a non-empty directory");
    return EntryErrno(name, "replace directory");
  }
  // It may have been the directory held open.
  dir_fd_.Reset();
  return absl::OkStatus();
}

absl::Status TreeWriter::MakeDirectory(absl::string_view name, struct archive_entry* entry,
                                       const std::vector<std::string>& parts, int parent) {
  const std::string& leaf = parts.back();
  // 0700 until Finish: nobody else may enter before the mode is the archive's.
  if (::mkdirat(parent, leaf.c_str(), 0700) != 0) {
    if (errno != EEXIST) return EntryErrno(name, "create directory");
    struct stat st;
    if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return EntryErrno(name, "stat");
    }
    if (!S_ISDIR(st.st_mode)) {
      if (!replace_across_types_) {
        return EntryError(name, "cannot overwrite a non-directory with a directory");
      }
      if (::unlinkat(parent, leaf.c_str(), 0) != 0) return EntryErrno(name, "replace");
      if (::mkdirat(parent, leaf.c_str(), 0700) != 0) return EntryErrno(name, "create directory");
    }
  }
  dirs_.push_back({absl::StrJoin(parts, "/"), archive_entry_perm(entry), UidOf(entry), GidOf(entry),
                   MtimeOf(entry)});
  return absl::OkStatus();
}

absl::Status TreeWriter::WriteFile(struct archive* reader, absl::string_view name,
                                   struct archive_entry* entry, int parent,
                                   const std::string& leaf) {
  constexpr int kCreate = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(parent, leaf.c_str(), kCreate, 0600));
  if (!fd.valid() && errno == EEXIST) {
    QUILT_RETURN_IF_ERROR(Replace(name, parent, leaf));
    fd.Reset(::openat(parent, leaf.c_str(), kCreate, 0600));
  }
  if (!fd.valid()) return EntryErrno(name, "create");
  QUILT_RETURN_IF_ERROR(CopyData(reader, name, fd.get(), archive_entry_size(entry)));
  // Owner before mode: chown clears the setuid and setgid bits.
  if (as_root_ && ::fchown(fd.get(), UidOf(entry), GidOf(entry)) != 0) {
    return EntryErrno(name, "chown");
  }
  if (::fchmod(fd.get(), archive_entry_perm(entry)) != 0) return EntryErrno(name, "chmod");
  const timespec times[2] = {{0, UTIME_OMIT}, MtimeOf(entry)};
  if (::futimens(fd.get(), times) != 0) return EntryErrno(name, "set times");
  return absl::OkStatus();
}

absl::Status TreeWriter::CopyData(struct archive* reader, absl::string_view name, int fd,
                                  int64_t size) {
  int64_t end = 0;
  for (;;) {
    const void* buf = nullptr;
    size_t left = 0;
    la_int64_t offset = 0;
    const int r = archive_read_data_block(reader, &buf, &left, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return read_error_(reader, name);
    const char* p = static_cast<const char*>(buf);
    while (left > 0) {
      const ssize_t n = ::pwrite(fd, p, left, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return EntryErrno(name, "write");
      p += n;
      offset += n;
      left -= static_cast<size_t>(n);
    }
    end = std::max<int64_t>(end, offset);
  }
  // A sparse file's trailing hole has no data block.
  if (end < size && ::ftruncate(fd, size) != 0) return EntryErrno(name, "truncate");
  if (writeback_ != nullptr && end > 0) {
    UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (dup.valid()) writeback_->Start(std::move(dup));
  }
  return absl::OkStatus();
}

// The target of a symlink is text for the container to resolve, never followed here.
absl::Status TreeWriter::MakeSymlink(absl::string_view name, struct archive_entry* entry,
                                     int parent, const std::string& leaf) {
  const char* target = archive_entry_symlink(entry);
  if (target == nullptr || *target == '\0') return EntryError(name, "symlink without target");
  if (::symlinkat(target, parent, leaf.c_str()) != 0) {
    if (errno != EEXIST) return EntryErrno(name, "create symlink");
    QUILT_RETURN_IF_ERROR(Replace(name, parent, leaf));
    if (::symlinkat(target, parent, leaf.c_str()) != 0) {
      return EntryErrno(name, "create symlink");
    }
  }
  return SetLinkMetadata(name, entry, parent, leaf);
}

absl::Status TreeWriter::MakeFifo(absl::string_view name, struct archive_entry* entry, int parent,
                                  const std::string& leaf) {
  if (::mkfifoat(parent, leaf.c_str(), 0600) != 0) {
    if (errno != EEXIST) return EntryErrno(name, "create fifo");
    QUILT_RETURN_IF_ERROR(Replace(name, parent, leaf));
    if (::mkfifoat(parent, leaf.c_str(), 0600) != 0) return EntryErrno(name, "create fifo");
  }
  QUILT_RETURN_IF_ERROR(SetLinkMetadata(name, entry, parent, leaf));
  // After the owner, which would clear setuid and setgid bits.
  if (::fchmodat(parent, leaf.c_str(), archive_entry_perm(entry), 0) != 0) {
    return EntryErrno(name, "chmod");
  }
  return absl::OkStatus();
}

absl::Status TreeWriter::SetLinkMetadata(absl::string_view name, struct archive_entry* entry,
                                         int parent, const std::string& leaf) const {
  if (as_root_ &&
      ::fchownat(parent, leaf.c_str(), UidOf(entry), GidOf(entry), AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryErrno(name, "chown");
  }
  const timespec times[2] = {{0, UTIME_OMIT}, MtimeOf(entry)};
  if (::utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return EntryErrno(name, "set times");
  }
  return absl::OkStatus();
}

// A hard link's target is an archive name like any other, so it can only name a file below
// the destination, reached without symlinks. link(2) does not follow a symlink target: the
// link is to the symlink itself.
absl::Status TreeWriter::MakeHardLink(absl::string_view name, const char* target, int parent,
                                      const std::string& leaf) {
  absl::StatusOr<std::vector<std::string>> target_parts = place_(target);
  if (!target_parts.ok() || target_parts->empty()) {
    return EntryError(name, absl::StrCat("bad hard link target \"", EchoName(target), "\""));
  }
  const size_t count = target_parts->size() - 1;
  absl::StatusOr<UniqueFd> target_parent = OpenBeneath(
      dest_fd_, count == 0 ? "." : JoinFirst(*target_parts, count), O_PATH | O_DIRECTORY);
  if (!target_parent.ok()) return LinkError(name, target, -1, "");
  const std::string& target_leaf = target_parts->back();
  if (::linkat(target_parent->get(), target_leaf.c_str(), parent, leaf.c_str(), 0) != 0) {
    if (errno != EEXIST) return LinkError(name, target, target_parent->get(), target_leaf);
    QUILT_RETURN_IF_ERROR(Replace(name, parent, leaf));
    if (::linkat(target_parent->get(), target_leaf.c_str(), parent, leaf.c_str(), 0) != 0) {
      return LinkError(name, target, target_parent->get(), target_leaf);
    }
  }
  return absl::OkStatus();
}

// A failed link: a target the archive did not create before the link, or a directory, is
// the archive's fault, not the host's (errno is the failure's).
absl::Status TreeWriter::LinkError(absl::string_view name, absl::string_view target,
                                   int target_parent, const std::string& target_leaf) const {
  const std::string quoted = absl::StrCat("hard link target \"", EchoName(target), "\"");
  if (errno == ENOENT) return EntryError(name, absl::StrCat(quoted, " is not in the tree"));
  struct stat st;
  if (errno == EPERM && target_parent >= 0 &&
      ::fstatat(target_parent, target_leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(st.st_mode)) {
    return EntryError(name, absl::StrCat(quoted, " is a directory"));
  }
  return EntryErrno(name, "create hard link");
}

absl::Status TreeWriter::Finish() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    absl::StatusOr<UniqueFd> dir = OpenBeneath(dest_fd_, it->path, O_RDONLY | O_DIRECTORY);
    if (!dir.ok() && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) continue;
    if (!dir.ok()) return EntryErrno(it->path, "reopen directory");
    if (as_root_ && ::fchown(dir->get(), it->uid, it->gid) != 0) {
      return EntryErrno(it->path, "chown");
    }
    if (::fchmod(dir->get(), it->mode) != 0) return EntryErrno(it->path, "chmod");
    const timespec times[2] = {{0, UTIME_OMIT}, it->mtime};
    if (::futimens(dir->get(), times) != 0) return EntryErrno(it->path, "set times");
  }
  return absl::OkStatus();
}

}  // namespace quilt
