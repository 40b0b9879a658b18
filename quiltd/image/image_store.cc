#include "quiltd/image/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "common/validation.h"
#include "nlohmann/json.hpp"
#include "quiltd/image/archive_extractor.h"

namespace quilt {
namespace {

constexpr absl::string_view kDigestPrefix = "sha256:";
constexpr char kRecordFile[] = "image.json";
constexpr char kTmpPrefix[] = ".tmp-";

bool IsLowerHex(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool IsHexDigest(absl::string_view hex) { return hex.size() == 64 && IsLowerHex(hex); }

absl::string_view StripDigestPrefix(absl::string_view ref) {
  if (absl::StartsWith(ref, kDigestPrefix)) ref.remove_prefix(kDigestPrefix.size());
  return ref;
}

std::string RecordToJson(const ImageRecord& record) {
  const nlohmann::json json = {{"digest", record.digest},
                               {"names", record.names},
                               {"size_bytes", record.size_bytes},
                               {"created_at_ns", record.created_at_ns}};
  return json.dump(2) + "\n";
}

absl::StatusOr<ImageRecord> RecordFromJson(const std::string& text, absl::string_view hex) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return absl::DataLossError("not a JSON object");
  ImageRecord record;
  try {
    record.digest = json.at("digest").get<std::string>();
    record.names = json.at("names").get<std::vector<std::string>>();
    record.size_bytes = json.at("size_bytes").get<int64_t>();
    record.created_at_ns = json.at("created_at_ns").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(e.what());
  }
  if (record.digest != absl::StrCat(kDigestPrefix, hex)) {
    return absl::DataLossError(absl::StrCat("digest ", record.digest, " does not match"));
  }
  return record;
}

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus(absl::StrCat("open ", path));
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return ErrnoStatus(absl::StrCat("read ", path));
  return contents.str();
}

absl::Status WriteRecord(const std::string& image_dir, const ImageRecord& record) {
  return WriteFileAtomically(absl::StrCat(image_dir, "/", kRecordFile), RecordToJson(record));
}

// A fresh, empty, world-readable directory "<images_dir>/.tmp-XXXXXX".
absl::StatusOr<std::string> MakeTempDir(const std::string& images_dir) {
  std::string tmpl = absl::StrCat(images_dir, "/", kTmpPrefix, "XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return ErrnoStatus(absl::StrCat("create temporary directory in ", images_dir));
  }
  // mkdtemp makes it 0700; the image directory must be traversable by container users.
  if (::chmod(tmpl.c_str(), 0755) != 0) return ErrnoStatus(absl::StrCat("chmod ", tmpl));
  return tmpl;
}

void RemoveTreeOrWarn(const std::string& path) {
  const absl::Status status = RemoveTree(path);
  if (!status.ok()) {
    QUILT_LOG(WARNING) << "image store: " << status.message();
  }
}

// Makes the extracted files durable before the rename publishes them: an image directory
// must never be complete (have image.json) while its rootfs is still in the page cache.
absl::Status SyncFilesystem(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return ErrnoStatus(absl::StrCat("open ", dir));
  if (::syncfs(fd.get()) != 0) return ErrnoStatus(absl::StrCat("sync ", dir));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (d == nullptr) return ErrnoStatus(absl::StrCat("open ", dir));
  std::vector<std::string> names;
  while (const struct dirent* ent = ::readdir(d.get())) {
    const absl::string_view name = ent->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

// Extracts `path` into <tmp_dir>/rootfs and writes the record beside it, durably.
absl::StatusOr<ImageRecord> Unpack(const std::string& path, const std::string& tmp_dir,
                                   const std::string& name, const ExtractLimits& limits) {
  const std::string rootfs = absl::StrCat(tmp_dir, "/rootfs");
  if (::mkdir(rootfs.c_str(), 0755) != 0) return ErrnoStatus(absl::StrCat("create ", rootfs));
  QUILT_ASSIGN_OR_RETURN(const ExtractResult extracted, ExtractArchive(path, rootfs, limits));
  ImageRecord record;
  record.digest = absl::StrCat(kDigestPrefix, extracted.sha256_hex);
  if (!name.empty()) record.names.push_back(name);
  record.size_bytes = extracted.size_bytes;
  record.created_at_ns = absl::GetCurrentTimeNanos();
  QUILT_RETURN_IF_ERROR(WriteRecord(tmp_dir, record));
  QUILT_RETURN_IF_ERROR(SyncFilesystem(tmp_dir));
  return record;
}

}  // namespace

ImageStore::ImageStore(std::string images_dir, const ExtractLimits& limits)
    : images_dir_(std::move(images_dir)), limits_(limits) {}

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& state_dir,
                                                             const ExtractLimits& limits) {
  if (state_dir.empty()) return absl::InvalidArgumentError("open image store: empty state dir");
  const std::string dir = absl::StrCat(state_dir, "/images");
  QUILT_RETURN_IF_ERROR(Annotate(MakeDirs(dir), "open image store"));
  // Resolved once so that every path handed to libarchive is absolute and symlink-free.
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) {
    return ErrnoStatus(absl::StrCat("open image store: resolve ", dir));
  }
  std::unique_ptr<ImageStore> store(new ImageStore(resolved, limits));
  QUILT_RETURN_IF_ERROR(Annotate(store->LoadRecords(), "open image store"));
  return store;
}

absl::Status ImageStore::LoadRecords() {
  QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> entries, ListDir(images_dir_));
  std::vector<ImageRecord> loaded;
  for (const std::string& entry : entries) {
    const std::string path = absl::StrCat(images_dir_, "/", entry);
    if (absl::StartsWith(entry, kTmpPrefix)) {
      QUILT_LOG(INFO) << "image store: removing interrupted import " << path;
      RemoveTreeOrWarn(path);
      continue;
    }
    if (!IsHexDigest(entry)) continue;
    auto text = ReadSmallFile(absl::StrCat(path, "/", kRecordFile));
    auto record = text.ok() ? RecordFromJson(*text, entry) : text.status();
    if (!record.ok()) {
      // Only a complete import has image.json (written before the rename): anything else is
      // an interrupted import or removal, and the bytes can be imported again.
      QUILT_LOG(WARNING) << "image store: removing incomplete image " << path << ": "
                         << record.status().message();
      RemoveTreeOrWarn(path);
      continue;
    }
    loaded.push_back(*std::move(record));
  }
  // A name moves by leaving its old image before joining the new one, so a crash can lose a
  // name but not duplicate it; stay safe anyway if a duplicate appears.
  std::sort(loaded.begin(), loaded.end(), [](const ImageRecord& a, const ImageRecord& b) {
    return a.created_at_ns > b.created_at_ns;
  });
  std::vector<std::string> seen;
  for (ImageRecord& record : loaded) {
    std::erase_if(record.names, [&seen](const std::string& n) {
      return std::find(seen.begin(), seen.end(), n) != seen.end();
    });
    seen.insert(seen.end(), record.names.begin(), record.names.end());
  }
  absl::MutexLock lock(&mu_);
  images_ = std::move(loaded);
  return absl::OkStatus();
}

absl::StatusOr<ImportResult> ImageStore::Import(const std::string& path, const std::string& name) {
  const std::string context = absl::StrCat("import ", path);
  if (!name.empty()) QUILT_RETURN_IF_ERROR(Annotate(ValidateName("name", name), context));
  // Hashing first (about 2 GB/s) keeps a repeated import from unpacking anything.
  absl::StatusOr<std::string> hex = Sha256OfFile(path);
  if (!hex.ok()) return Annotate(hex.status(), context);
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::optional<ImageRecord>> existing =
        NameExisting(absl::StrCat(kDigestPrefix, *hex), name);
    if (!existing.ok()) return Annotate(existing.status(), context);
    if (existing->has_value()) return ImportResult{**std::move(existing), false};
  }
  absl::StatusOr<std::string> tmp = MakeTempDir(images_dir_);
  if (!tmp.ok()) return Annotate(tmp.status(), context);
  const std::string tmp_dir = *std::move(tmp);
  // Runs on every path but a published import, after the lock is released (deleting a
  // large tree is slow).
  absl::Cleanup remove_tmp = [&tmp_dir] { RemoveTreeOrWarn(tmp_dir); };
  // Extraction runs without the lock: imports of different files proceed in parallel.
  absl::StatusOr<ImageRecord> record = Unpack(path, tmp_dir, name, limits_);
  if (!record.ok()) return Annotate(record.status(), context);
  bool unpacked = false;
  absl::StatusOr<ImageRecord> committed = Commit(tmp_dir, *record, name, &unpacked);
  if (!committed.ok()) return Annotate(committed.status(), context);
  if (unpacked) std::move(remove_tmp).Cancel();
  QUILT_LOG(INFO) << "imported " << path << " as " << committed->digest
                  << (unpacked ? "" : " (already present)");
  return ImportResult{*std::move(committed), unpacked};
}

absl::StatusOr<ImageRecord> ImageStore::Commit(const std::string& tmp_dir,
                                               const ImageRecord& record, const std::string& name,
                                               bool* unpacked) {
  absl::MutexLock lock(&mu_);
  // Another import of the same bytes may have finished while this one was unpacking.
  QUILT_ASSIGN_OR_RETURN(std::optional<ImageRecord> existing, NameExisting(record.digest, name));
  if (existing.has_value()) {
    *unpacked = false;
    return *std::move(existing);
  }
  if (!name.empty()) QUILT_RETURN_IF_ERROR(ReleaseName(name, record.digest));
  const std::string final_dir = ImageDir(record.digest);
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("rename ", tmp_dir, " to ", final_dir));
  }
  *unpacked = true;
  images_.push_back(record);
  // The image is in place and complete; a failed directory fsync only weakens durability.
  const absl::Status synced = FsyncDir(images_dir_);
  if (!synced.ok()) {
    QUILT_LOG(WARNING) << "image store: " << synced.message();
  }
  return record;
}

absl::StatusOr<std::optional<ImageRecord>> ImageStore::NameExisting(const std::string& digest,
                                                                    const std::string& name) {
  ImageRecord* existing = FindLocked(digest);
  if (existing == nullptr) {
    return std::optional<ImageRecord>();
  }
  // ReleaseName rewrites other records in place; `existing` stays valid.
  if (!name.empty()) QUILT_RETURN_IF_ERROR(ReleaseName(name, digest));
  if (name.empty() ||
      std::find(existing->names.begin(), existing->names.end(), name) != existing->names.end()) {
    return std::optional<ImageRecord>(*existing);
  }
  ImageRecord updated = *existing;
  updated.names.push_back(name);
  QUILT_RETURN_IF_ERROR(WriteRecord(ImageDir(updated.digest), updated));
  *existing = std::move(updated);
  return std::optional<ImageRecord>(*existing);
}

absl::Status ImageStore::ReleaseName(const std::string& name, const std::string& keep_digest) {
  for (ImageRecord& other : images_) {
    if (other.digest == keep_digest) continue;
    auto it = std::find(other.names.begin(), other.names.end(), name);
    if (it == other.names.end()) continue;
    ImageRecord updated = other;
    updated.names.erase(updated.names.begin() + (it - other.names.begin()));
    QUILT_RETURN_IF_ERROR(WriteRecord(ImageDir(updated.digest), updated));
    other = std::move(updated);
  }
  return absl::OkStatus();
}

absl::StatusOr<ImageRecord> ImageStore::Resolve(const std::string& ref) const {
  if (ref.empty()) return absl::InvalidArgumentError("resolve image: empty reference");
  absl::ReaderMutexLock lock(&mu_);
  for (const ImageRecord& record : images_) {
    if (std::find(record.names.begin(), record.names.end(), ref) != record.names.end()) {
      return record;
    }
  }
  const absl::string_view hex = StripDigestPrefix(ref);
  if (IsLowerHex(hex)) {
    const ImageRecord* match = nullptr;
    int matches = 0;
    for (const ImageRecord& record : images_) {
      if (absl::StartsWith(StripDigestPrefix(record.digest), hex)) {
        match = &record;
        ++matches;
      }
    }
    if (matches == 1) return *match;
    if (matches > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("resolve image: \"", ref, "\" is ambiguous: matches ", matches, " images"));
    }
  }
  return absl::NotFoundError(absl::StrCat("no such image: ", ref));
}

std::vector<ImageRecord> ImageStore::List() const {
  std::vector<ImageRecord> images;
  {
    absl::ReaderMutexLock lock(&mu_);
    images = images_;
  }
  std::sort(images.begin(), images.end(), [](const ImageRecord& a, const ImageRecord& b) {
    if (a.created_at_ns != b.created_at_ns) return a.created_at_ns > b.created_at_ns;
    return a.digest < b.digest;
  });
  return images;
}

absl::Status ImageStore::Remove(const std::string& digest) {
  const std::string context = absl::StrCat("remove image ", digest);
  std::string trash;
  {
    absl::MutexLock lock(&mu_);
    ImageRecord* record = FindLocked(digest);
    if (record == nullptr) return absl::NotFoundError(absl::StrCat("no such image: ", digest));
    absl::StatusOr<std::string> tmp = MakeTempDir(images_dir_);
    if (!tmp.ok()) return Annotate(tmp.status(), context);
    trash = *std::move(tmp);
    // rename(2) may replace an empty directory: the image vanishes atomically, and a crash
    // during the slow delete below leaves only .tmp-* garbage, which Open removes.
    const std::string dir = ImageDir(record->digest);
    if (::rename(dir.c_str(), trash.c_str()) != 0) {
      const int err = errno;
      ::rmdir(trash.c_str());
      return ErrnoStatus(err, absl::StrCat(context, ": rename ", dir));
    }
    images_.erase(images_.begin() + (record - images_.data()));
  }
  RemoveTreeOrWarn(trash);
  return absl::OkStatus();
}

std::string ImageStore::RootfsDir(const std::string& digest) const {
  return absl::StrCat(ImageDir(digest), "/rootfs");
}

std::string ImageStore::ImageDir(const std::string& digest) const {
  return absl::StrCat(images_dir_, "/", StripDigestPrefix(digest));
}

ImageRecord* ImageStore::FindLocked(const std::string& digest) {
  const std::string full = absl::StrCat(kDigestPrefix, StripDigestPrefix(digest));
  for (ImageRecord& record : images_) {
    if (record.digest == full) return &record;
  }
  return nullptr;
}

}  // namespace quilt
