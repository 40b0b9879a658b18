#include "tests/integration/tar_builder.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace quilt::testing {
namespace {

struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<struct archive_entry, EntryFree>;

int AddFilter(struct archive* a, TarFilter filter) {
  switch (filter) {
    case TarFilter::kNone:
      return ARCHIVE_OK;
    case TarFilter::kGzip:
      return archive_write_add_filter_gzip(a);
    case TarFilter::kXz:
      return archive_write_add_filter_xz(a);
    case TarFilter::kZstd:
      return archive_write_add_filter_zstd(a);
    case TarFilter::kBzip2:
      return archive_write_add_filter_bzip2(a);
  }
  return ARCHIVE_FATAL;
}

Entry NewEntry(const std::string& name, mode_t type, int mode) {
  Entry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_filetype(e.get(), type);
  archive_entry_set_perm(e.get(), static_cast<mode_t>(mode));
  archive_entry_set_mtime(e.get(), 1700000000, 0);
  return e;
}

// Writes `value` as zero-padded octal filling `width` - 1 digits and a NUL.
void PutOctal(char* field, size_t width, int64_t value) {
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1),
                static_cast<unsigned long long>(value));
}

}  // namespace

void TarBuilder::ArchiveFree::operator()(struct archive* a) const { archive_write_free(a); }

TarBuilder::TarBuilder(const std::string& path, TarFilter filter) : archive_(archive_write_new()) {
  archive_write_set_format_pax(archive_.get());
  if (AddFilter(archive_.get(), filter) < ARCHIVE_WARN) {
    Fail("add filter");
  } else if (archive_write_open_filename(archive_.get(), path.c_str()) != ARCHIVE_OK) {
    Fail("open");
  }
}

TarBuilder::~TarBuilder() = default;

void TarBuilder::Fail(const char* what) {
  if (!status_.ok()) return;
  const char* msg = archive_error_string(archive_.get());
  status_ = absl::InternalError(absl::StrCat(what, ": ", msg == nullptr ? "?" : msg));
}

TarBuilder& TarBuilder::File(const std::string& name, const std::string& data, int mode,
                             const std::map<std::string, std::string>& xattrs) {
  Entry e = NewEntry(name, AE_IFREG, mode);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  for (const auto& [key, value] : xattrs) {
    archive_entry_xattr_add_entry(e.get(), key.c_str(), value.data(), value.size());
  }
  if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) Fail("write header");
  if (!data.empty() && archive_write_data(archive_.get(), data.data(), data.size()) < 0) {
    Fail("write data");
  }
  return *this;
}

TarBuilder& TarBuilder::Dir(const std::string& name, int mode) {
  Entry e = NewEntry(name, AE_IFDIR, mode);
  if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) Fail("write header");
  return *this;
}

TarBuilder& TarBuilder::Symlink(const std::string& name, const std::string& target) {
  Entry e = NewEntry(name, AE_IFLNK, 0777);
  archive_entry_set_symlink(e.get(), target.c_str());
  if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) Fail("write header");
  return *this;
}

TarBuilder& TarBuilder::Hardlink(const std::string& name, const std::string& target,
                                 const std::string& data) {
  Entry e = NewEntry(name, AE_IFREG, 0644);
  archive_entry_set_hardlink(e.get(), target.c_str());
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) Fail("write header");
  if (!data.empty() && archive_write_data(archive_.get(), data.data(), data.size()) < 0) {
    Fail("write data");
  }
  return *this;
}

TarBuilder& TarBuilder::Node(const std::string& name, mode_t type, int mode) {
  Entry e = NewEntry(name, type, mode);
  archive_entry_set_rdev(e.get(), makedev(1, 3));
  if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) Fail("write header");
  return *this;
}

TarBuilder& TarBuilder::Sparse(const std::string& name, int64_t logical_bytes) {
  constexpr int64_t kData = 4096;
  Entry e = NewEntry(name, AE_IFREG, 0644);
  archive_entry_set_size(e.get(), logical_bytes);
  archive_entry_sparse_add_entry(e.get(), logical_bytes - kData, kData);
  if (archive_write_header(archive_.get(), e.get()) != ARCHIVE_OK) Fail("write header");
  // The pax writer takes only the bytes of the data regions.
  const std::string data(kData, 's');
  if (archive_write_data(archive_.get(), data.data(), data.size()) < 0) Fail("write data");
  return *this;
}

absl::Status TarBuilder::Close() {
  if (archive_write_close(archive_.get()) != ARCHIVE_OK) Fail("close");
  return status_;
}

std::string UstarHeader(const std::string& name, int64_t size, char typeflag) {
  std::string h(512, '\0');
  h.replace(0, std::min<size_t>(name.size(), 100), name.substr(0, 100));
  PutOctal(&h[100], 8, 0644);
  PutOctal(&h[108], 8, 0);
  PutOctal(&h[116], 8, 0);
  PutOctal(&h[124], 12, size);
  PutOctal(&h[136], 12, 1700000000);
  h[156] = typeflag;
  h.replace(257, 8,
            std::string("ustar\0"
                        "00",
                        8));
  // The checksum is computed with its own field as spaces.
  h.replace(148, 8, std::string(8, ' '));
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(&h[148], 8, "%06o", sum);
  h[155] = ' ';
  return h;
}

absl::StatusOr<std::string> Compress(const std::string& data, TarFilter filter) {
  std::unique_ptr<struct archive, void (*)(struct archive*)> a(
      archive_write_new(), [](struct archive* p) { archive_write_free(p); });
  archive_write_set_format_raw(a.get());
  // No padding after the member: members are concatenated.
  archive_write_set_bytes_per_block(a.get(), 0);
  if (AddFilter(a.get(), filter) < ARCHIVE_WARN) return absl::InternalError("add filter");
  std::vector<char> out(data.size() + (1 << 16));
  size_t used = 0;
  if (archive_write_open_memory(a.get(), out.data(), out.size(), &used) != ARCHIVE_OK) {
    return absl::InternalError("open memory");
  }
  Entry e = NewEntry("raw", AE_IFREG, 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
  if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
      archive_write_data(a.get(), data.data(), data.size()) < 0 ||
      archive_write_close(a.get()) != ARCHIVE_OK) {
    const char* msg = archive_error_string(a.get());
    return absl::InternalError(absl::StrCat("compress: ", msg == nullptr ? "?" : msg));
  }
  return std::string(out.data(), used);
}

absl::Status WriteBomb(const std::string& path, const std::string& head, TarFilter filter,
                       int64_t repeats, int64_t zeros_per_member) {
  absl::StatusOr<std::string> first = Compress(head, filter);
  if (!first.ok()) return first.status();
  absl::StatusOr<std::string> member =
      Compress(std::string(static_cast<size_t>(zeros_per_member), '\0'), filter);
  if (!member.ok()) return member.status();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << *first;
  for (int64_t i = 0; i < repeats; ++i) out << *member;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("write ", path));
  return absl::OkStatus();
}

}  // namespace quilt::testing
