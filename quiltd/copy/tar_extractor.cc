#include "quiltd/copy/tar_extractor.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quiltd/copy/path_in_root.h"
#include "quiltd/copy/tree_writer.h"

namespace quilt {
namespace {

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;

class Extractor {
 public:
  Extractor(const ChunkSource& source, int dest_fd, const ExtractPlan& plan)
      : source_(source),
        plan_(plan),
        writer_(
            dest_fd, [this](absl::string_view name) { return TargetParts(name); },
            [this](struct archive* reader, absl::string_view) { return ReadError(reader); }) {}

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
      if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > plan_.max_entry_bytes) {
        const char* name = archive_entry_pathname(entry);
        return EntryError(
            name == nullptr ? "" : name,
            absl::StrCat("size exceeds the limit of ", plan_.max_entry_bytes, " bytes"));
      }
      QUILT_RETURN_IF_ERROR(writer_.Write(reader.get(), entry));
    }
    return writer_.Finish();
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

  const ChunkSource& source_;
  const ExtractPlan& plan_;
  std::string chunk_;
  absl::Status source_status_;
  TreeWriter writer_;
};

}  // namespace

absl::Status ExtractTar(const ChunkSource& source, int dest_fd, const ExtractPlan& plan) {
  return Extractor(source, dest_fd, plan).Run();
}

}  // namespace quilt
