#include "quiltd/copy/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "quiltd/copy/path_in_root.h"

namespace quilt {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
// Each level of the walk holds its directory open; this bounds the fds one copy uses.
constexpr int kMaxDepth = 256;

struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
struct ResolverFree {
  void operator()(struct archive_entry_linkresolver* r) const {
    archive_entry_linkresolver_free(r);
  }
};
struct DirClose {
  void operator()(DIR* d) const { ::closedir(d); }
};

// The names in directory `dir_fd`, sorted so that the archive's order is stable.
absl::StatusOr<std::vector<std::string>> ListDir(int dir_fd, absl::string_view path) {
  const int copy = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (copy < 0) return ErrnoStatus(absl::StrCat("open directory ", path));
  std::unique_ptr<DIR, DirClose> dir(::fdopendir(copy));
  if (dir == nullptr) {
    ::close(copy);
    return ErrnoStatus(absl::StrCat("read directory ", path));
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(dir.get())) {
    const absl::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  if (errno != 0) return ErrnoStatus(absl::StrCat("read directory ", path));
  std::sort(names.begin(), names.end());
  return names;
}

class TarWriter {
 public:
  explicit TarWriter(const ChunkSink& sink) : sink_(sink) {}

  absl::Status Run(const TarSource& source) {
    writer_.reset(archive_write_new());
    resolver_.reset(archive_entry_linkresolver_new());
    if (writer_ == nullptr || resolver_ == nullptr) {
      return absl::ResourceExhaustedError("create archive writer");
    }
    archive_write_set_format_pax_restricted(writer_.get());
    archive_entry_linkresolver_set_strategy(resolver_.get(), archive_format(writer_.get()));
    // No padding of the last block to 10 KiB: the stream ends with the archive.
    archive_write_set_bytes_in_last_block(writer_.get(), 1);
    if (archive_write_open(writer_.get(), this, nullptr, &TarWriter::Write, nullptr) !=
        ARCHIVE_OK) {
      return WriterError("open archive");
    }
    absl::Status status = source.name == "."
                              ? AddChildren(source.parent.get(), "", 0)
                              : AddEntry(source.parent.get(), source.name, source.name, 0);
    if (!status.ok()) {
      // Freeing a writer that was not closed would still write the archive's end to the
      // sink: after a failure the stream must end with the error, not with a valid tar.
      archive_write_fail(writer_.get());
      return status;
    }
    if (archive_write_close(writer_.get()) != ARCHIVE_OK) return WriterError("finish archive");
    return absl::OkStatus();
  }

 private:
  static la_ssize_t Write(struct archive* a, void* client, const void* buf, size_t size) {
    auto* self = static_cast<TarWriter*>(client);
    self->sink_status_ = self->sink_(absl::string_view(static_cast<const char*>(buf), size));
    if (!self->sink_status_.ok()) {
      archive_set_error(a, EIO, "%s", "archive stream failed");
      return -1;
    }
    return static_cast<la_ssize_t>(size);
  }

  absl::Status WriterError(absl::string_view what) const {
    if (!sink_status_.ok()) return sink_status_;
    const char* msg = archive_error_string(writer_.get());
    return absl::InternalError(absl::StrCat(what, ": ", msg == nullptr ? "failed" : msg));
  }

  absl::Status AddChildren(int dir_fd, const std::string& prefix, int depth) {
    if (depth >= kMaxDepth) {
      return absl::FailedPreconditionError(
          absl::StrCat("copy ", prefix, ": more than ", kMaxDepth, " directory levels"));
    }
    QUILT_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir_fd, prefix));
    for (const std::string& name : names) {
      QUILT_RETURN_IF_ERROR(AddEntry(dir_fd, name, absl::StrCat(prefix, name), depth));
    }
    return absl::OkStatus();
  }

  // Archives `name` in `dir_fd` as `archive_name`, and what is below it.
  absl::Status AddEntry(int dir_fd, const std::string& name, const std::string& archive_name,
                        int depth) {
    struct stat st;
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return absl::OkStatus();  // removed by the container meanwhile
      return ErrnoStatus(absl::StrCat("stat ", archive_name));
    }
    if (S_ISSOCK(st.st_mode)) return absl::OkStatus();  // tar cannot hold a socket
    UniqueFd fd;
    std::string link_target;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      const int flags = S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK;
      fd.Reset(::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
      if (!fd.valid()) return ErrnoStatus(absl::StrCat("open ", archive_name));
      // What was opened is what gets described, even if the name changed meanwhile.
      if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(absl::StrCat("stat ", archive_name));
    } else if (S_ISLNK(st.st_mode)) {
      QUILT_ASSIGN_OR_RETURN(link_target, ReadLinkAt(dir_fd, name, archive_name));
    }
    std::unique_ptr<struct archive_entry, EntryFree> entry(archive_entry_new());
    archive_entry_copy_stat(entry.get(), &st);
    archive_entry_set_pathname(entry.get(), archive_name.c_str());
    if (S_ISLNK(st.st_mode)) archive_entry_set_symlink(entry.get(), link_target.c_str());
    struct archive_entry* linked = entry.get();
    struct archive_entry* spare = nullptr;
    // For tar, a later name of an inode already archived becomes a hard link entry.
    archive_entry_linkify(resolver_.get(), &linked, &spare);
    if (archive_write_header(writer_.get(), entry.get()) != ARCHIVE_OK) {
      return WriterError(absl::StrCat("archive ", archive_name));
    }
    if (S_ISREG(st.st_mode) && archive_entry_hardlink(entry.get()) == nullptr) {
      QUILT_RETURN_IF_ERROR(CopyData(fd.get(), st.st_size, archive_name));
    }
    if (S_ISDIR(st.st_mode)) {
      return AddChildren(fd.get(), absl::StrCat(archive_name, "/"), depth + 1);
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<std::string> ReadLinkAt(int dir_fd, const std::string& name,
                                                absl::string_view archive_name) {
    std::string target(PATH_MAX, '\0');
    const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(absl::StrCat("read symlink ", archive_name));
    target.resize(static_cast<size_t>(n));
    return target;
  }

  absl::Status CopyData(int fd, off_t size, absl::string_view archive_name) {
    std::string buf(kReadBytes, '\0');
    while (size > 0) {
      const ssize_t n = ::read(fd, buf.data(), std::min<size_t>(buf.size(), size));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus(absl::StrCat("read ", archive_name));
      if (n == 0) break;  // shrank: libarchive pads the entry with zeros
      if (archive_write_data(writer_.get(), buf.data(), static_cast<size_t>(n)) < 0) {
        return WriterError(absl::StrCat("archive ", archive_name));
      }
      size -= n;
    }
    return absl::OkStatus();
  }

  const ChunkSink& sink_;
  absl::Status sink_status_;
  std::unique_ptr<struct archive, ArchiveWriteFree> writer_;
  std::unique_ptr<struct archive_entry_linkresolver, ResolverFree> resolver_;
};

}  // namespace

absl::StatusOr<TarSource> OpenTarSource(int root_fd, absl::string_view path) {
  TarSource source;
  absl::string_view trimmed = path;
  const bool contents = absl::EndsWith(trimmed, "/.") || trimmed == "/" || trimmed == ".";
  if (contents) {
    QUILT_ASSIGN_OR_RETURN(source.parent, OpenInRoot(root_fd, path, O_RDONLY | O_DIRECTORY));
    if (::fstat(source.parent.get(), &source.st) != 0) return ErrnoStatus("stat source");
    source.name.assign(1, '.');
    return source;
  }
  const bool must_be_dir = absl::EndsWith(trimmed, "/");
  while (absl::ConsumeSuffix(&trimmed, "/")) {
  }
  const size_t slash = trimmed.rfind('/');
  const absl::string_view parent =
      slash == absl::string_view::npos ? "/" : trimmed.substr(0, slash + 1);
  source.name = std::string(slash == absl::string_view::npos ? trimmed : trimmed.substr(slash + 1));
  if (source.name == "..") {
    return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" ends in \"..\""));
  }
  QUILT_ASSIGN_OR_RETURN(source.parent, OpenInRoot(root_fd, parent, O_PATH | O_DIRECTORY));
  if (::fstatat(source.parent.get(), source.name.c_str(), &source.st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoStatus(absl::StrCat("stat ", path));
  }
  if (must_be_dir && !S_ISDIR(source.st.st_mode)) {
    return ErrnoStatus(ENOTDIR, absl::StrCat("stat ", path));
  }
  if (S_ISLNK(source.st.st_mode)) {
    std::string target(PATH_MAX, '\0');
    const ssize_t n =
        ::readlinkat(source.parent.get(), source.name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(absl::StrCat("read symlink ", path));
    target.resize(static_cast<size_t>(n));
    source.link_target = std::move(target);
  }
  return source;
}

absl::Status WriteTar(const TarSource& source, const ChunkSink& sink) {
  return TarWriter(sink).Run(source);
}

}  // namespace quilt
