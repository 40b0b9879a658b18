#include "quiltd/image/test_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/fs.h"

namespace quilt::testing {
namespace {

struct WriterFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

absl::Status ArchiveError(struct archive* a, absl::string_view what) {
  const char* msg = archive_error_string(a);
  return absl::InternalError(absl::StrCat(what, ": ", msg == nullptr ? "?" : msg));
}

int AddFilter(struct archive* a, Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return ARCHIVE_OK;
    case Compression::kGzip: {
      const int r = archive_write_add_filter_gzip(a);
      // No time in the gzip header: the same entries always make the same blob (an image
      // layout written across a second boundary had two digests for one layer).
      return r == ARCHIVE_OK ? archive_write_set_filter_option(a, "gzip", "timestamp", nullptr) : r;
    }
    case Compression::kXz:
      return archive_write_add_filter_xz(a);
    case Compression::kZstd:
      return archive_write_add_filter_zstd(a);
    case Compression::kBzip2:
      return archive_write_add_filter_bzip2(a);
  }
  return ARCHIVE_FATAL;
}

void FillEntry(const TestEntry& in, struct archive_entry* e) {
  archive_entry_set_pathname(e, in.path.c_str());
  archive_entry_set_perm(e, static_cast<mode_t>(in.mode));
  archive_entry_set_mtime(e, 1700000000, 0);
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  switch (in.type) {
    case EntryType::kFile:
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(in.data.size()));
      break;
    case EntryType::kDir:
      archive_entry_set_filetype(e, AE_IFDIR);
      break;
    case EntryType::kSymlink:
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, in.target.c_str());
      break;
    case EntryType::kHardlink:
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, in.target.c_str());
      archive_entry_set_size(e, 0);
      break;
    case EntryType::kCharDevice:
      archive_entry_set_filetype(e, AE_IFCHR);
      archive_entry_set_rdev(e, makedev(1, 3));
      break;
    case EntryType::kBlockDevice:
      archive_entry_set_filetype(e, AE_IFBLK);
      archive_entry_set_rdev(e, makedev(7, 0));
      break;
    case EntryType::kFifo:
      archive_entry_set_filetype(e, AE_IFIFO);
      break;
  }
}

}  // namespace

absl::Status WriteTestArchive(const std::string& path, const std::vector<TestEntry>& entries,
                              Compression compression) {
  std::unique_ptr<struct archive, WriterFree> a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  if (AddFilter(a.get(), compression) < ARCHIVE_WARN) return ArchiveError(a.get(), "add filter");
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
    return ArchiveError(a.get(), "open");
  }
  for (const TestEntry& in : entries) {
    std::unique_ptr<struct archive_entry, EntryFree> e(archive_entry_new());
    FillEntry(in, e.get());
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK) {
      return ArchiveError(a.get(), "write header");
    }
    if (in.type == EntryType::kFile && !in.data.empty() &&
        archive_write_data(a.get(), in.data.data(), in.data.size()) < 0) {
      return ArchiveError(a.get(), "write data");
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return ArchiveError(a.get(), "close");
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("open ", path));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile(path);
  if (!data.ok()) return data.status();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data->data(), data->size(), md, &len, EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("sha256");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), len));
}

std::vector<std::string> ListNames(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (d == nullptr) return names;
  while (const struct dirent* ent = ::readdir(d.get())) {
    const std::string name = ent->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

ScratchDir::ScratchDir() {
  const char* tmp = ::getenv("TMPDIR");
  std::string tmpl =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/quilt-image-test-XXXXXX");
  if (::mkdtemp(tmpl.data()) != nullptr) {
    char resolved[PATH_MAX];
    path_ = ::realpath(tmpl.c_str(), resolved) != nullptr ? resolved : tmpl;
  }
}

ScratchDir::~ScratchDir() {
  if (!path_.empty()) RemoveTree(path_).IgnoreError();
}

}  // namespace quilt::testing
