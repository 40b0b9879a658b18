#include "quilt-cli/local_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quilt::cli {
namespace {

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using Reader = std::unique_ptr<struct archive, ReadFree>;
using Writer = std::unique_ptr<struct archive, WriteFree>;

absl::Status ArchiveError(struct archive* a, absl::string_view what,
                          const absl::Status& stream_status) {
  if (!stream_status.ok()) return stream_status;
  const char* msg = archive_error_string(a);
  const int err = archive_errno(a);
  const std::string text = absl::StrCat(what, ": ", msg == nullptr ? "failed" : msg);
  if (err == ENOENT) return absl::NotFoundError(text);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(text);
  return absl::InvalidArgumentError(text);
}

struct SinkState {
  const TarSink* sink;
  absl::Status status;
};

la_ssize_t WriteToSink(struct archive* a, void* client, const void* buf, size_t size) {
  auto* state = static_cast<SinkState*>(client);
  state->status = (*state->sink)(absl::string_view(static_cast<const char*>(buf), size));
  if (!state->status.ok()) {
    archive_set_error(a, EIO, "%s", "stream failed");
    return -1;
  }
  return static_cast<la_ssize_t>(size);
}

struct SourceState {
  const TarSource* source;
  std::string chunk;
  absl::Status status;
};

la_ssize_t ReadFromSource(struct archive* a, void* client, const void** out) {
  auto* state = static_cast<SourceState*>(client);
  state->status = (*state->source)(&state->chunk);
  if (!state->status.ok()) {
    archive_set_error(a, EIO, "%s", "stream failed");
    return -1;
  }
  *out = state->chunk.data();
  return static_cast<la_ssize_t>(state->chunk.size());
}

bool HasDotDot(absl::string_view path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return false;
}

// The entry name with its first component renamed; "" when it is not below `from`.
std::string Rename(absl::string_view name, const std::string& from, const std::string& to) {
  while (absl::ConsumePrefix(&name, "./")) {
  }
  if (from.empty() || from == ".") return std::string(name);
  if (name == from) return to;
  if (absl::StartsWith(name, from + "/")) return absl::StrCat(to, name.substr(from.size()));
  return "";
}

absl::Status CopyEntryData(struct archive* disk, struct archive* writer, const SinkState& state,
                           absl::string_view name) {
  char buf[64 * 1024];
  for (;;) {
    const la_ssize_t n = archive_read_data(disk, buf, sizeof(buf));
    if (n == 0) return absl::OkStatus();
    if (n < 0) return ArchiveError(disk, absl::StrCat("read ", name), absl::OkStatus());
    if (archive_write_data(writer, buf, static_cast<size_t>(n)) < 0) {
      return ArchiveError(writer, absl::StrCat("archive ", name), state.status);
    }
  }
}

absl::Status ExtractHere(const TarSource& source, const std::string& from, const std::string& to) {
  Reader reader(archive_read_new());
  Writer writer(archive_write_disk_new());
  if (reader == nullptr || writer == nullptr) return absl::ResourceExhaustedError("out of memory");
  archive_read_support_format_tar(reader.get());
  int flags = ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
              ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
              ARCHIVE_EXTRACT_UNLINK;
  if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
  archive_write_disk_set_options(writer.get(), flags);
  SourceState state{&source, {}, absl::OkStatus()};
  if (archive_read_open(reader.get(), &state, nullptr, &ReadFromSource, nullptr) != ARCHIVE_OK) {
    return ArchiveError(reader.get(), "read archive", state.status);
  }
  for (;;) {
    struct archive_entry* entry = nullptr;
    const int r = archive_read_next_header(reader.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return ArchiveError(reader.get(), "read archive", state.status);
    const std::string name = archive_entry_pathname(entry);
    const std::string renamed = Rename(name, from, to);
    if (name.empty() || name[0] == '/' || HasDotDot(name) || renamed.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("entry \"", name, "\": refused"));
    }
    archive_entry_set_pathname(entry, renamed.c_str());
    if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
      const std::string target = Rename(link, from, to);
      if (link[0] == '/' || HasDotDot(link) || target.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("entry \"", name, "\": bad hard link"));
      }
      archive_entry_set_hardlink(entry, target.c_str());
    }
    if (archive_write_header(writer.get(), entry) < ARCHIVE_WARN) {
      return ArchiveError(writer.get(), absl::StrCat("extract ", renamed), {});
    }
    for (;;) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      const int d = archive_read_data_block(reader.get(), &buf, &size, &offset);
      if (d == ARCHIVE_EOF) break;
      if (d < ARCHIVE_WARN) return ArchiveError(reader.get(), "read archive", state.status);
      if (archive_write_data_block(writer.get(), buf, size, offset) < ARCHIVE_OK) {
        return ArchiveError(writer.get(), absl::StrCat("extract ", renamed), {});
      }
    }
    if (archive_write_finish_entry(writer.get()) < ARCHIVE_WARN) {
      return ArchiveError(writer.get(), absl::StrCat("extract ", renamed), {});
    }
  }
  if (archive_write_close(writer.get()) < ARCHIVE_WARN) {
    return ArchiveError(writer.get(), "finish extraction", {});
  }
  return absl::OkStatus();
}

// Walks `path` with `disk` and writes every entry to `writer`, then closes it.
absl::Status ArchiveTree(struct archive* disk, struct archive* writer, SinkState& state,
                         const std::string& path, const std::string& top_name) {
  if (archive_write_open(writer, &state, nullptr, &WriteToSink, nullptr) != ARCHIVE_OK ||
      archive_read_disk_open(disk, path.c_str()) != ARCHIVE_OK) {
    return ArchiveError(disk, absl::StrCat("copy ", path), state.status);
  }
  for (;;) {
    std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> entry(
        archive_entry_new(), archive_entry_free);
    const int r = archive_read_next_header2(disk, entry.get());
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return ArchiveError(disk, absl::StrCat("read ", path), {});
    archive_read_disk_descend(disk);
    absl::string_view rest = archive_entry_pathname(entry.get());
    absl::ConsumePrefix(&rest, path);
    while (absl::ConsumePrefix(&rest, "/")) {
    }
    const std::string renamed = rest.empty() ? top_name : absl::StrCat(top_name, "/", rest);
    archive_entry_set_pathname(entry.get(), renamed.c_str());
    if (archive_write_header(writer, entry.get()) < ARCHIVE_WARN) {
      return ArchiveError(writer, absl::StrCat("archive ", renamed), state.status);
    }
    if (archive_entry_filetype(entry.get()) == AE_IFREG && archive_entry_size(entry.get()) > 0) {
      absl::Status copied = CopyEntryData(disk, writer, state, renamed);
      if (!copied.ok()) return copied;
    }
  }
  if (archive_write_close(writer) != ARCHIVE_OK) {
    return ArchiveError(writer, "finish archive", state.status);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ArchiveLocalPath(const std::string& path, const std::string& top_name,
                              const TarSink& sink) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("copy ", path, ": no such file or directory"));
  }
  // Declared before the writer: freeing a writer that was not closed still flushes to it.
  SinkState state{&sink, absl::OkStatus()};
  Reader disk(archive_read_disk_new());
  Writer writer(archive_write_new());
  if (disk == nullptr || writer == nullptr) return absl::ResourceExhaustedError("out of memory");
  archive_read_disk_set_symlink_physical(disk.get());
  archive_read_disk_set_behavior(
      disk.get(), ARCHIVE_READDISK_NO_XATTR | ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS);
  archive_write_set_format_pax_restricted(writer.get());
  archive_write_set_bytes_in_last_block(writer.get(), 1);
  absl::Status status = ArchiveTree(disk.get(), writer.get(), state, path, top_name);
  // After a failure (the server may have ended the call) nothing more goes to the stream.
  if (!status.ok()) archive_write_fail(writer.get());
  return status;
}

absl::Status ExtractLocal(const TarSource& source, const std::string& dest_dir,
                          const std::string& from, const std::string& to) {
  // libarchive's symlink check covers every component of the names it is given, so entries
  // are named relative to the destination (the user's own path may hold symlinks); the CLI
  // is the only user of its working directory, which is restored at the end.
  const int previous = ::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (::chdir(dest_dir.c_str()) != 0) {
    const int error = errno;
    if (previous >= 0) ::close(previous);
    return absl::NotFoundError(absl::StrCat("copy to ", dest_dir, ": ", strerror(error)));
  }
  absl::Status status = ExtractHere(source, from, to);
  if (previous >= 0) {
    (void)!::fchdir(previous);
    ::close(previous);
  }
  return status;
}

}  // namespace quilt::cli
