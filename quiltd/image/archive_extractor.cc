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
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "quiltd/copy/path_in_root.h"
#include "quiltd/copy/tree_writer.h"
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
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;

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

// The entry checks that must hold before anything is written for an entry.
absl::Status CheckEntry(struct archive_entry* entry, const std::string& dest_dir) {
  const char* raw = archive_entry_pathname(entry);
  const absl::string_view name = raw == nullptr ? "" : raw;
  if (name.empty()) return EntryError(name, "empty path");
  if (name.front() == '/') return EntryError(name, "absolute path");
  if (HasDotDot(name)) return EntryError(name, "path has a \"..\" component");
  // No tree a container can use holds a path of PATH_MAX or more.
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

// The components of a name that CheckEntry let through.
absl::StatusOr<std::vector<std::string>> Place(absl::string_view name) {
  if (!name.empty() && name.front() == '/') return EntryError(name, "absolute path");
  absl::StatusOr<std::vector<std::string>> parts = SplitClean(name);
  if (!parts.ok()) return EntryError(name, "path has a \"..\" component");
  return parts;
}

// True when the entry's last component names a whiteout.
bool IsWhiteout(absl::string_view name) {
  const size_t slash = name.rfind('/');
  return absl::StartsWith(slash == absl::string_view::npos ? name : name.substr(slash + 1),
                          kWhiteoutPrefix);
}

// Writes the overlayfs form of the whiteout entry `name`.
absl::Status ApplyWhiteout(TreeWriter& writer, absl::string_view name) {
  QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> parts, Place(name));
  const std::string& base = parts.back();
  const std::vector<std::string> parent(parts.begin(), parts.end() - 1);
  // Opened without following any symlink: a layer could otherwise plant a link and
  // whiteout through it.
  QUILT_ASSIGN_OR_RETURN(const int dir, writer.Directory(name, parent));
  if (base == kOpaqueWhiteout) {
    UniqueFd opened(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!opened || ::fsetxattr(opened.get(), "trusted.overlay.opaque", "y", 1, 0) != 0) {
      return ErrnoStatus(absl::StrCat(EntryContext(name), "mark directory opaque"));
    }
    return absl::OkStatus();
  }
  const std::string hidden = base.substr(kWhiteoutPrefix.size());
  if (hidden.empty() || hidden == "." || hidden == "..") return EntryError(name, "bad whiteout");
  if (::mknodat(dir, hidden.c_str(), S_IFCHR, makedev(0, 0)) != 0) {
    if (errno == EEXIST) return EntryError(name, "whiteout of a file the same layer holds");
    return ErrnoStatus(absl::StrCat(EntryContext(name), "create whiteout"));
  }
  return absl::OkStatus();
}

bool IsImageMarker(struct archive_entry* entry) {
  const char* raw = archive_entry_pathname(entry);
  absl::string_view name = raw == nullptr ? "" : raw;
  if (absl::StartsWith(name, "./")) name.remove_prefix(2);
  return archive_entry_filetype(entry) == AE_IFREG && archive_entry_hardlink(entry) == nullptr &&
         (name == "oci-layout" || name == "manifest.json");
}

// What the inflated stream may hold once the entries read so far are counted: their
// declared sizes, and per entry and in all what a tar stream holds beyond them.
int64_t AllowedInflation(const ExtractResult& result) {
  return result.declared_bytes + (result.entries + 1) * kInflateAllowancePerEntry + kInflateSlack;
}

absl::Status ExtractEntries(struct archive* reader, TreeWriter& writer, Inflater& input,
                            const std::string& dest_dir, const ExtractLimits& limits,
                            EntryFormat format, ExtractResult& result) {
  while (true) {
    struct archive_entry* entry = nullptr;
    const int r = archive_read_next_header(reader, &entry);
    QUILT_RETURN_IF_ERROR(input.FileError());
    if (r == ARCHIVE_EOF) return absl::OkStatus();
    if (r < ARCHIVE_WARN) return ReadError(reader, input, "read archive: ");
    const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    QUILT_RETURN_IF_ERROR(CountEntry(entry, limits, result));
    input.Allow(AllowedInflation(result));
    QUILT_RETURN_IF_ERROR(CheckEntry(entry, dest_dir));
    if (format == EntryFormat::kOciLayer && IsWhiteout(name)) {
      // The whiteout's own (empty) data is skipped by the next archive_read_next_header.
      QUILT_RETURN_IF_ERROR(ApplyWhiteout(writer, name));
      continue;
    }
    DropSetIds(entry);
    QUILT_RETURN_IF_ERROR(writer.Write(reader, entry));
    result.image_archive |= IsImageMarker(entry);
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
                                             ProgressMeter* meter, bool start_writeback) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd fd, OpenArchiveFile(archive_path));
  HashingSource source(std::move(fd), meter);
  QUILT_RETURN_IF_ERROR(source.Init());
  ExtractResult result;
  Inflater input(&source);
  input.Allow(AllowedInflation(result));
  QUILT_RETURN_IF_ERROR(input.Start());
  QUILT_ASSIGN_OR_RETURN(ArchiveReader reader, NewReader());
  UniqueFd dest(::open(dest_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dest) return ErrnoStatus(absl::StrCat("open ", dest_dir));
  TreeWriter writer(dest.get(), &Place,
                    [&input](struct archive* r, absl::string_view name) {
                      return ReadError(r, input, EntryContext(name));
                    },
                    {.replace_across_types = true, .start_writeback = start_writeback});
  if (archive_read_open(reader.get(), &input, nullptr, &Inflater::Read, nullptr) != ARCHIVE_OK) {
    return ReadError(reader.get(), input, "read archive: ");
  }
  QUILT_RETURN_IF_ERROR(
      ExtractEntries(reader.get(), writer, input, dest_dir, limits, format, result));
  QUILT_RETURN_IF_ERROR(writer.Finish());
  QUILT_RETURN_IF_ERROR(input.Finish(/*hash_rest=*/true));
  QUILT_ASSIGN_OR_RETURN(result.sha256_hex, source.FinishHex());
  return result;
}

}  // namespace quilt
