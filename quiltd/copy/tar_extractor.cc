#include "quiltd/copy/tar_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "quiltd/copy/path_in_root.h"

namespace quilt {
namespace {

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;

// Metadata applied to a directory once everything below it is written: its mtime would
// otherwise change with each entry, and a read-only mode could stop the next ones.
struct DirMetadata {
  std::string path;  // relative to the destination
  mode_t mode;
  uid_t uid;
  gid_t gid;
  timespec mtime;
};

absl::Status EntryError(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("entry \"", name, "\": ", why));
}

absl::Status EntryErrno(absl::string_view name, absl::string_view what) {
  if (errno == ELOOP) return EntryError(name, "path goes through a symlink");
  return ErrnoStatus(absl::StrCat("entry \"", name, "\": ", what));
}

class Extractor {
 public:
  Extractor(const ChunkSource& source, int dest_fd, const ExtractPlan& plan)
      : source_(source), dest_fd_(dest_fd), plan_(plan), as_root_(::geteuid() == 0) {}

  absl::Status Run() {
    ArchiveReader reader(archive_read_new());
    if (reader == nullptr) return absl::ResourceExhaustedError("create archive reader");
    // Only tar, and filters built into libarchive: no external decompressor is spawned.
    archive_read_support_format_tar(reader.get());
    archive_read_support_format_gnutar(reader.get());
    archive_read_support_filter_gzip(reader.get());
    archive_read_support_filter_xz(reader.get());
    archive_read_support_filter_zstd(reader.get());
    archive_read_support_filter_bzip2(reader.get());
    if (archive_read_open(reader.get(), this, nullptr, &Extractor::Read, nullptr) != ARCHIVE_OK) {
      return ReadError(reader.get());
    }
    for (int64_t count = 0;; ++count) {
      struct archive_entry* entry = nullptr;
      const int r = archive_read_next_header(reader.get(), &entry);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ReadError(reader.get());
      if (count >= plan_.max_entries) {
        return absl::InvalidArgumentError(
            absl::StrCat("archive has more than ", plan_.max_entries, " entries"));
      }
      QUILT_RETURN_IF_ERROR(ExtractEntry(reader.get(), entry));
    }
    return ApplyDirMetadata();
  }

 private:
  static la_ssize_t Read(struct archive* a, void* client, const void** out) {
    auto* self = static_cast<Extractor*>(client);
    self->source_status_ = self->source_(&self->chunk_);
    if (!self->source_status_.ok()) {
      archive_set_error(a, EIO, "%s", "archive stream failed");
      return -1;
    }
    *out = self->chunk_.data();
    return static_cast<la_ssize_t>(self->chunk_.size());
  }

  absl::Status ReadError(struct archive* reader) const {
    if (!source_status_.ok()) return source_status_;
    const char* msg = archive_error_string(reader);
    return absl::InvalidArgumentError(
        absl::StrCat("read archive: ", msg == nullptr ? "unreadable archive" : msg));
  }

  // The entry's path below the destination, renamed as the plan says.
  absl::StatusOr<std::vector<std::string>> TargetParts(absl::string_view name) const {
    if (name.empty()) return EntryError(name, "empty path");
    if (name.front() == '/') return EntryError(name, "absolute path");
    absl::StatusOr<std::vector<std::string>> parts = SplitClean(name);
    if (!parts.ok()) return EntryError(name, "path has a \"..\" component");
    if (plan_.source_name.empty()) return parts;
    if (parts->empty() || (*parts)[0] != plan_.source_name) {
      return EntryError(name, absl::StrCat("outside the copied \"", plan_.source_name, "\""));
    }
    (*parts)[0] = plan_.target_name;
    return parts;
  }

  // Opens the directory that holds the last of `parts`, creating missing directories (a
  // tar need not list every parent) with mode 0755.
  absl::StatusOr<UniqueFd> OpenParent(absl::string_view name,
                                      const std::vector<std::string>& parts) const {
    UniqueFd dir(::fcntl(dest_fd_, F_DUPFD_CLOEXEC, 0));
    if (!dir.valid()) return ErrnoStatus("dup destination");
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      absl::StatusOr<UniqueFd> next = OpenBeneath(dir.get(), parts[i], O_PATH | O_DIRECTORY);
      if (!next.ok() && errno == ENOENT) {
        if (::mkdirat(dir.get(), parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
          return EntryErrno(name, absl::StrCat("create directory ", parts[i]));
        }
        next = OpenBeneath(dir.get(), parts[i], O_PATH | O_DIRECTORY);
      }
      if (!next.ok()) {
        if (errno == ENOTDIR) return EntryError(name, "a parent is not a directory");
        return EntryErrno(name, "open parent directory");
      }
      dir = *std::move(next);
    }
    return dir;
  }

  // Clears the way for the new entry `leaf` in `parent`: a directory may merge into a
  // directory; anything else replaces a non-directory.
  absl::Status MakeRoom(absl::string_view name, int parent, const std::string& leaf,
                        bool new_is_dir, bool* exists_as_dir) const {
    *exists_as_dir = false;
    struct stat st;
    if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return EntryErrno(name, "stat");
    }
    if (S_ISDIR(st.st_mode)) {
      if (!new_is_dir) return EntryError(name, "cannot overwrite a directory with a non-directory");
      *exists_as_dir = true;
      return absl::OkStatus();
    }
    if (new_is_dir) return EntryError(name, "cannot overwrite a non-directory with a directory");
    if (::unlinkat(parent, leaf.c_str(), 0) != 0) return EntryErrno(name, "replace");
    return absl::OkStatus();
  }

  absl::Status ExtractEntry(struct archive* reader, struct archive_entry* entry) {
    const char* raw = archive_entry_pathname(entry);
    const std::string name = raw == nullptr ? "" : raw;
    QUILT_ASSIGN_OR_RETURN(std::vector<std::string> parts, TargetParts(name));
    const mode_t type = archive_entry_filetype(entry);
    const char* hardlink = archive_entry_hardlink(entry);
    // The destination itself ("." or "./"): it exists, and its metadata is the container's.
    if (parts.empty()) {
      if (type == AE_IFDIR) return absl::OkStatus();
      return EntryError(name, "non-directory at the root");
    }
    if (hardlink == nullptr && type != AE_IFDIR && type != AE_IFREG && type != AE_IFLNK &&
        type != AE_IFIFO) {
      return EntryError(name, "device node or socket");
    }
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > plan_.max_entry_bytes) {
      return EntryError(
          name, absl::StrCat("size exceeds the limit of ", plan_.max_entry_bytes, " bytes"));
    }
    QUILT_ASSIGN_OR_RETURN(UniqueFd parent, OpenParent(name, parts));
    const std::string& leaf = parts.back();
    bool exists_as_dir = false;
    QUILT_RETURN_IF_ERROR(
        MakeRoom(name, parent.get(), leaf, type == AE_IFDIR && !hardlink, &exists_as_dir));
    if (hardlink != nullptr) return MakeHardLink(name, hardlink, parent.get(), leaf);
    switch (type) {
      case AE_IFDIR:
        return MakeDirectory(name, entry, parts, parent.get(), leaf, exists_as_dir);
      case AE_IFREG:
        return WriteFile(reader, name, entry, parent.get(), leaf);
      case AE_IFLNK:
        return MakeSymlink(name, entry, parent.get(), leaf);
      default:
        return MakeFifo(name, entry, parent.get(), leaf);
    }
  }

  absl::Status MakeDirectory(absl::string_view name, struct archive_entry* entry,
                             const std::vector<std::string>& parts, int parent,
                             const std::string& leaf, bool exists) {
    if (!exists && ::mkdirat(parent, leaf.c_str(), 0700) != 0) {
      return EntryErrno(name, "create directory");
    }
    dirs_.push_back({absl::StrJoin(parts, "/"),
                     archive_entry_perm(entry),
                     static_cast<uid_t>(archive_entry_uid(entry)),
                     static_cast<gid_t>(archive_entry_gid(entry)),
                     {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}});
    return absl::OkStatus();
  }

  absl::Status WriteFile(struct archive* reader, absl::string_view name,
                         struct archive_entry* entry, int parent, const std::string& leaf) {
    UniqueFd fd(
        ::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return EntryErrno(name, "create");
    for (;;) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      const int r = archive_read_data_block(reader, &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ReadError(reader);
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        const ssize_t n = ::pwrite(fd.get(), p, size, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return EntryErrno(name, "write");
        p += n;
        offset += n;
        size -= static_cast<size_t>(n);
      }
    }
    // A sparse file's trailing hole has no data block.
    if (::ftruncate(fd.get(), archive_entry_size(entry)) != 0) return EntryErrno(name, "truncate");
    // Owner before mode: chown clears the setuid and setgid bits.
    if (as_root_ && ::fchown(fd.get(), static_cast<uid_t>(archive_entry_uid(entry)),
                             static_cast<gid_t>(archive_entry_gid(entry))) != 0) {
      return EntryErrno(name, "chown");
    }
    if (::fchmod(fd.get(), archive_entry_perm(entry)) != 0) return EntryErrno(name, "chmod");
    const timespec times[2] = {{0, UTIME_OMIT},
                               {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
    if (::futimens(fd.get(), times) != 0) return EntryErrno(name, "set times");
    return absl::OkStatus();
  }

  // The target of a symlink is text for the container to resolve, never followed here.
  absl::Status MakeSymlink(absl::string_view name, struct archive_entry* entry, int parent,
                           const std::string& leaf) const {
    const char* target = archive_entry_symlink(entry);
    if (target == nullptr || *target == '\0') return EntryError(name, "symlink without target");
    if (::symlinkat(target, parent, leaf.c_str()) != 0) return EntryErrno(name, "create symlink");
    return SetLinkMetadata(name, entry, parent, leaf);
  }

  absl::Status MakeFifo(absl::string_view name, struct archive_entry* entry, int parent,
                        const std::string& leaf) const {
    if (::mkfifoat(parent, leaf.c_str(), 0600) != 0) return EntryErrno(name, "create fifo");
    if (::fchmodat(parent, leaf.c_str(), archive_entry_perm(entry), 0) != 0) {
      return EntryErrno(name, "chmod");
    }
    return SetLinkMetadata(name, entry, parent, leaf);
  }

  absl::Status SetLinkMetadata(absl::string_view name, struct archive_entry* entry, int parent,
                               const std::string& leaf) const {
    if (as_root_ &&
        ::fchownat(parent, leaf.c_str(), static_cast<uid_t>(archive_entry_uid(entry)),
                   static_cast<gid_t>(archive_entry_gid(entry)), AT_SYMLINK_NOFOLLOW) != 0) {
      return EntryErrno(name, "chown");
    }
    const timespec times[2] = {{0, UTIME_OMIT},
                               {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
    if (::utimensat(parent, leaf.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
      return EntryErrno(name, "set times");
    }
    return absl::OkStatus();
  }

  // A hard link's target is an archive name like any other, so it can only name a file
  // below the destination, reached without symlinks.
  absl::Status MakeHardLink(absl::string_view name, const char* target, int parent,
                            const std::string& leaf) const {
    absl::StatusOr<std::vector<std::string>> target_parts = TargetParts(target);
    if (!target_parts.ok() || target_parts->empty()) {
      return EntryError(name, absl::StrCat("bad hard link target \"", target, "\""));
    }
    QUILT_ASSIGN_OR_RETURN(UniqueFd target_parent, OpenParent(name, *target_parts));
    if (::linkat(target_parent.get(), target_parts->back().c_str(), parent, leaf.c_str(), 0) != 0) {
      return EntryErrno(name, "create hard link");
    }
    return absl::OkStatus();
  }

  // Deepest first, so that restoring a directory's mtime is not undone by its children.
  absl::Status ApplyDirMetadata() const {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      absl::StatusOr<UniqueFd> dir = OpenBeneath(dest_fd_, it->path, O_RDONLY | O_DIRECTORY);
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

  const ChunkSource& source_;
  const int dest_fd_;
  const ExtractPlan& plan_;
  const bool as_root_;
  std::string chunk_;
  absl::Status source_status_;
  std::vector<DirMetadata> dirs_;
};

}  // namespace

absl::Status ExtractTar(const ChunkSource& source, int dest_fd, const ExtractPlan& plan) {
  return Extractor(source, dest_fd, plan).Run();
}

}  // namespace quilt
