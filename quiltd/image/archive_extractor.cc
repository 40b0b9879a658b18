#include "quiltd/image/archive_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "quiltd/image/hashing_source.h"
#include "quiltd/image/inflater.h"

namespace quilt {
namespace {

// What the tar stream may hold beyond the entries' declared sizes: headers, pax records
// and padding per entry, plus the end blocks and what a decompressor holds buffered.
constexpr int64_t kInflateAllowancePerEntry = int64_t{64} << 10;
constexpr int64_t kInflateSlack = int64_t{16} << 20;
// Whiteout names of the OCI image spec (layer.md, "Whiteouts").
constexpr absl::string_view kWhiteoutPrefix = ".wh.";
constexpr absl::string_view kOpaqueWhiteout = ".wh..wh..opq";

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;
using ArchiveWriter = std::unique_ptr<struct archive, ArchiveWriteFree>;

}  // namespace

absl::StatusOr<std::string> Sha256OfFile(const std::string& path, ProgressMeter* meter) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoStatus("open archive");
  HashingSource source(std::move(fd), meter);
  QUILT_RETURN_IF_ERROR(source.Init());
  QUILT_RETURN_IF_ERROR(source.Drain());
  return source.FinishHex();
}

namespace {

// Errors name the entry, but a hostile name may be 1 MiB long: errors keep its start.
constexpr size_t kMaxEchoedBytes = 256;

std::string EchoName(absl::string_view name) {
  if (name.size() <= kMaxEchoedBytes) return std::string(name);
  size_t cut = kMaxEchoedBytes;
  // Back off to a UTF-8 character boundary.
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xc0) == 0x80) --cut;
  return absl::StrCat(name.substr(0, cut), "...");
}

std::string EntryContext(absl::string_view name) {
  return absl::StrCat("entry \"", EchoName(name), "\": ");
}

absl::Status EntryError(absl::string_view name, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(EntryContext(name), why));
}

bool HasDotDot(absl::string_view path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return false;
}

// True when the path names the extraction root itself ("", ".", "./", "./.").
bool IsRoot(absl::string_view path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (!part.empty() && part != ".") return false;
  }
  return true;
}

// The entry checks that must hold before libarchive writes anything for an entry.
absl::Status CheckEntry(struct archive_entry* entry, const std::string& dest_dir) {
  const char* raw = archive_entry_pathname(entry);
  const absl::string_view name = raw == nullptr ? "" : raw;
  if (name.empty()) return EntryError(name, "empty path");
  if (name.front() == '/') return EntryError(name, "absolute path");
  if (HasDotDot(name)) return EntryError(name, "path has a \"..\" component");
  // libarchive falls back to chdir(2) for paths of PATH_MAX or more, which would move the
  // working directory of every thread in quiltd; such paths are refused instead.
  if (dest_dir.size() + 1 + name.size() >= PATH_MAX) return EntryError(name, "path too long");
  const mode_t type = archive_entry_filetype(entry);
  if (type == AE_IFCHR || type == AE_IFBLK) return EntryError(name, "device node");
  if (type != AE_IFDIR && IsRoot(name)) return EntryError(name, "non-directory at the root");
  if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
    const absl::string_view target = link;
    if (target.empty() || target.front() == '/') {
      return EntryError(name, "hard link target is absolute or empty");
    }
    if (HasDotDot(target)) return EntryError(name, "hard link target has a \"..\" component");
    if (dest_dir.size() + 1 + target.size() >= PATH_MAX) {
      return EntryError(name, "hard link target too long");
    }
  }
  return absl::OkStatus();
}

absl::Status LimitError(absl::string_view name, absl::string_view why) {
  return absl::ResourceExhaustedError(absl::StrCat(EntryContext(name), why));
}

// Counts the entry against the limits before its data is read, so a bomb is refused before
// it is inflated. Every declared size counts, whatever the entry's type: what libarchive does
// read of it (to write or to skip) is inflated.
absl::Status CountEntry(struct archive_entry* entry, const ExtractLimits& limits,
                        ExtractResult& result) {
  const char* raw = archive_entry_pathname(entry);
  const absl::string_view name = raw == nullptr ? "" : raw;
  if (++result.entries > limits.max_entries) {
    return LimitError(name, absl::StrCat("archive has more than ", limits.max_entries,
                                         " entries (quiltd --image-max-entries)"));
  }
  const int64_t size = archive_entry_size_is_set(entry) ? archive_entry_size(entry) : 0;
  if (size < 0) return EntryError(name, "negative size");
  if (size > limits.max_entry_bytes) {
    return LimitError(name, absl::StrCat("size ", size, " exceeds the limit of ",
                                         limits.max_entry_bytes, " bytes"));
  }
  result.declared_bytes += size;
  if (result.declared_bytes > limits.max_total_bytes) {
    return LimitError(name, absl::StrCat("archive unpacks to more than ", limits.max_total_bytes,
                                         " bytes (quiltd --image-max-bytes)"));
  }
  if (archive_entry_filetype(entry) == AE_IFREG && archive_entry_hardlink(entry) == nullptr) {
    result.size_bytes += size;
  }
  return absl::OkStatus();
}

// Setuid and setgid programs would run as their owner on the host, for anyone who can reach
// the store; in a container (always no_new_privs) the bits do nothing. A directory's setgid
// only makes new files inherit its group, so it stays.
void DropSetIds(struct archive_entry* entry) {
  if (archive_entry_filetype(entry) == AE_IFDIR) return;
  archive_entry_set_perm(entry, archive_entry_perm(entry) & ~(S_ISUID | S_ISGID));
}

// Maps a failure of archive_write_disk to a status: a full disk is RESOURCE_EXHAUSTED, host
// trouble keeps its errno code, anything else (symlink tricks, type clashes) is the archive's
// fault.
absl::Status WriteError(struct archive* writer, const std::string& dest_dir,
                        absl::string_view context) {
  const int err = archive_errno(writer);
  const char* msg = archive_error_string(writer);
  // libarchive names the absolute temp path; the archive's own names are what users know.
  const std::string text = absl::StrCat(
      context,
      EchoName(absl::StrReplaceAll(msg == nullptr ? "write failed" : msg, {{dest_dir + "/", ""}})));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(text);
  if (err == EIO || err == EROFS || err == ENOMEM || err == EMFILE || err == ENFILE) {
    return absl::Status(ErrnoToCode(err), text);
  }
  return absl::InvalidArgumentError(text);
}

// libarchive reports some host failures (metadata it could not apply, writes that failed)
// as ARCHIVE_WARN; those caused by the disk are failures, the rest (a time or owner that
// could not be restored) are tolerated.
bool WriteFailed(struct archive* writer, int r) {
  if (r < ARCHIVE_WARN) return true;
  if (r == ARCHIVE_OK) return false;
  const int err = archive_errno(writer);
  return err == ENOSPC || err == EDQUOT || err == EIO;
}

// A failure of the reader: a failed read(2) keeps its errno, everything else (not an
// archive, truncated, corrupt) is INVALID_ARGUMENT with libarchive's message.
absl::Status ReadError(struct archive* reader, const Inflater& input, absl::string_view context) {
  QUILT_RETURN_IF_ERROR(input.FileError());
  const char* msg = archive_error_string(reader);
  return absl::InvalidArgumentError(
      absl::StrCat(context, msg == nullptr ? "unreadable archive" : msg));
}

absl::StatusOr<ArchiveReader> NewReader() {
  ArchiveReader reader(archive_read_new());
  if (reader == nullptr)
    return absl::ResourceExhaustedError("create archive reader: out of memory");
  // Only tar (ustar, pax, GNU, v7): format_all would link xar -> libxml2 -> ICU. No filter:
  // the Inflater hands over the stream decompressed.
  archive_read_support_format_tar(reader.get());
  archive_read_support_format_gnutar(reader.get());
  return reader;
}

absl::StatusOr<ArchiveWriter> NewWriter() {
  ArchiveWriter writer(archive_write_disk_new());
  if (writer == nullptr) return absl::ResourceExhaustedError("create disk writer: out of memory");
  // No ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: we hand libarchive absolute destination paths
  // (never relying on the working directory) after refusing absolute entry names ourselves.
  // No user/group lookup is installed, so OWNER applies the archive's numeric ids, which
  // belong to the image, not to the host's /etc/passwd.
  int flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME;
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(writer.get(), flags);
  return writer;
}

absl::Status CopyData(struct archive* reader, struct archive* writer, const Inflater& input,
                      const std::string& dest_dir, absl::string_view context) {
  while (true) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    const int r = archive_read_data_block(reader, &buf, &size, &offset);
    QUILT_RETURN_IF_ERROR(input.FileError());
    if (r == ARCHIVE_EOF) return absl::OkStatus();
    if (r < ARCHIVE_WARN) return ReadError(reader, input, context);
    // A failed or short write(2) comes back as ARCHIVE_WARN, so any non-OK result is fatal.
    if (archive_write_data_block(writer, buf, size, offset) != ARCHIVE_OK) {
      return WriteError(writer, dest_dir, context);
    }
  }
}

// Rewrites the entry's path (and hard link target) to absolute paths below dest_dir.
void Relocate(struct archive_entry* entry, const std::string& dest_dir) {
  archive_entry_set_pathname(entry,
                             absl::StrCat(dest_dir, "/", archive_entry_pathname(entry)).c_str());
  if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
    archive_entry_set_hardlink(entry, absl::StrCat(dest_dir, "/", link).c_str());
  }
}

// Opens the directory `rel` below `dest_dir`, creating missing components, without following
// any symlink: a layer could otherwise plant a link and whiteout through it.
absl::StatusOr<UniqueFd> OpenDirBelow(const std::string& dest_dir, absl::string_view rel,
                                      absl::string_view name) {
  UniqueFd dir(::open(dest_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return ErrnoStatus(absl::StrCat("open ", dest_dir));
  for (absl::string_view part : absl::StrSplit(rel, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    const std::string component(part);
    if (::mkdirat(dir.get(), component.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(absl::StrCat(EntryContext(name), "create directory"));
    }
    UniqueFd next(
        ::openat(dir.get(), component.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next && (errno == ELOOP || errno == ENOTDIR)) {
      return EntryError(name, "whiteout below a symlink or a file");
    }
    if (!next) return ErrnoStatus(absl::StrCat(EntryContext(name), "open directory"));
    dir = std::move(next);
  }
  return dir;
}

// Writes the overlayfs form of a whiteout entry; false when `name` is not one.
absl::StatusOr<bool> ApplyWhiteout(const std::string& dest_dir, absl::string_view name) {
  const size_t slash = name.rfind('/');
  const absl::string_view parent = slash == absl::string_view::npos ? "" : name.substr(0, slash);
  const absl::string_view base = name.substr(slash == absl::string_view::npos ? 0 : slash + 1);
  if (!absl::StartsWith(base, kWhiteoutPrefix)) return false;
  QUILT_ASSIGN_OR_RETURN(UniqueFd dir, OpenDirBelow(dest_dir, parent, name));
  if (base == kOpaqueWhiteout) {
    if (::fsetxattr(dir.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return ErrnoStatus(absl::StrCat(EntryContext(name), "mark directory opaque"));
    }
    return true;
  }
  const std::string hidden(base.substr(kWhiteoutPrefix.size()));
  if (hidden.empty() || hidden == "." || hidden == "..") return EntryError(name, "bad whiteout");
  if (::mknodat(dir.get(), hidden.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
    if (errno == EEXIST) return EntryError(name, "whiteout of a file the same layer holds");
    return ErrnoStatus(absl::StrCat(EntryContext(name), "create whiteout"));
  }
  return true;
}

// What the inflated stream may hold once the entries read so far are counted: their
// declared sizes, and per entry and in all what a tar stream holds beyond them.
int64_t AllowedInflation(const ExtractResult& result) {
  return result.declared_bytes + (result.entries + 1) * kInflateAllowancePerEntry + kInflateSlack;
}

absl::Status ExtractEntries(struct archive* reader, struct archive* writer, Inflater& input,
                            const std::string& dest_dir, const ExtractLimits& limits,
                            EntryFormat format, ExtractResult& result) {
  while (true) {
    struct archive_entry* entry = nullptr;
    const int r = archive_read_next_header(reader, &entry);
    QUILT_RETURN_IF_ERROR(input.FileError());
    if (r == ARCHIVE_EOF) return absl::OkStatus();
    if (r < ARCHIVE_WARN) return ReadError(reader, input, "read archive: ");
    const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    const std::string context = EntryContext(name);
    QUILT_RETURN_IF_ERROR(CountEntry(entry, limits, result));
    input.Allow(AllowedInflation(result));
    QUILT_RETURN_IF_ERROR(CheckEntry(entry, dest_dir));
    if (format == EntryFormat::kOciLayer) {
      // The whiteout's own (empty) data is skipped by the next archive_read_next_header.
      QUILT_ASSIGN_OR_RETURN(const bool whiteout, ApplyWhiteout(dest_dir, name));
      if (whiteout) continue;
    }
    DropSetIds(entry);
    Relocate(entry, dest_dir);
    if (WriteFailed(writer, archive_write_header(writer, entry))) {
      return WriteError(writer, dest_dir, context);
    }
    QUILT_RETURN_IF_ERROR(CopyData(reader, writer, input, dest_dir, context));
    if (WriteFailed(writer, archive_write_finish_entry(writer))) {
      return WriteError(writer, dest_dir, context);
    }
  }
}

absl::StatusOr<UniqueFd> OpenArchiveFile(const std::string& path) {
  // O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return ErrnoStatus("open archive");
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat archive");
  if (!S_ISREG(st.st_mode)) return absl::InvalidArgumentError("open archive: not a regular file");
  if (st.st_size == 0) return absl::InvalidArgumentError("open archive: empty file");
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return fd;
}

}  // namespace

absl::StatusOr<ExtractResult> ExtractArchive(const std::string& archive_path,
                                             const std::string& dest_dir,
                                             const ExtractLimits& limits, EntryFormat format,
                                             ProgressMeter* meter) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd fd, OpenArchiveFile(archive_path));
  HashingSource source(std::move(fd), meter);
  QUILT_RETURN_IF_ERROR(source.Init());
  ExtractResult result;
  Inflater input(&source);
  input.Allow(AllowedInflation(result));
  QUILT_RETURN_IF_ERROR(input.Start());
  QUILT_ASSIGN_OR_RETURN(ArchiveReader reader, NewReader());
  QUILT_ASSIGN_OR_RETURN(ArchiveWriter writer, NewWriter());
  if (archive_read_open(reader.get(), &input, nullptr, &Inflater::Read, nullptr) != ARCHIVE_OK) {
    return ReadError(reader.get(), input, "read archive: ");
  }
  QUILT_RETURN_IF_ERROR(
      ExtractEntries(reader.get(), writer.get(), input, dest_dir, limits, format, result));
  // Directory permissions and times are applied at close (deferred so that read-only
  // directories can still be filled).
  if (WriteFailed(writer.get(), archive_write_close(writer.get()))) {
    return WriteError(writer.get(), dest_dir, "finish extraction: ");
  }
  QUILT_RETURN_IF_ERROR(input.Finish(/*hash_rest=*/true));
  QUILT_ASSIGN_OR_RETURN(result.sha256_hex, source.FinishHex());
  return result;
}

}  // namespace quilt
