#include "quiltd/image/image_store.h"

#include <archive.h>
#include <archive_entry.h>
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
#include "absl/container/flat_hash_set.h"
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

constexpr char kLayerRecordFile[] = "layer.json";

std::string RecordToJson(const ImageRecord& record) {
  const ImageConfig& c = record.config;
  const nlohmann::json json = {{"digest", record.digest},
                               {"names", record.names},
                               {"size_bytes", record.size_bytes},
                               {"created_at_ns", record.created_at_ns},
                               {"layers", record.layers},
                               {"config",
                                {{"entrypoint", c.entrypoint},
                                 {"cmd", c.cmd},
                                 {"env", c.env},
                                 {"working_dir", c.working_dir},
                                 {"user", c.user}}}};
  return json.dump(2) + "\n";
}

void ConfigFromJson(const nlohmann::json& json, ImageConfig& config) {
  config.entrypoint = json.at("entrypoint").get<std::vector<std::string>>();
  config.cmd = json.at("cmd").get<std::vector<std::string>>();
  config.env = json.at("env").get<std::vector<std::string>>();
  config.working_dir = json.at("working_dir").get<std::string>();
  config.user = json.at("user").get<std::string>();
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
    // Records written before images had layers have neither key.
    if (json.contains("layers")) record.layers = json["layers"].get<std::vector<std::string>>();
    if (json.contains("config")) ConfigFromJson(json["config"], record.config);
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(e.what());
  }
  if (record.digest != absl::StrCat(kDigestPrefix, hex)) {
    return absl::DataLossError(absl::StrCat("digest ", record.digest, " does not match"));
  }
  for (const std::string& layer : record.layers) {
    if (!IsHexDigest(layer)) return absl::DataLossError(absl::StrCat("bad layer \"", layer, "\""));
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

// The size of the regular file `fd`; 0 (unknown) when it cannot be told.
int64_t FileBytes(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return st.st_size;
}

// The size of each layer blob of the layout, 0 for one that cannot be opened: its error, if
// it matters (the layer is not in the store yet), comes when it is unpacked.
std::vector<int64_t> BlobBytes(int layout_fd, const std::vector<LayerBlob>& blobs) {
  std::vector<int64_t> sizes;
  sizes.reserve(blobs.size());
  for (const LayerBlob& blob : blobs) {
    absl::StatusOr<UniqueFd> fd = OpenBeneath(layout_fd, blob.path);
    struct stat st;
    const bool known = fd.ok() && ::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode);
    sizes.push_back(known ? st.st_size : 0);
  }
  return sizes;
}

// The last check before an import is published: a cancelled one leaves the store as it was.
absl::Status CheckNotCancelled(const ProgressMeter& meter) {
  if (meter.cancelled()) return absl::CancelledError("import cancelled");
  return absl::OkStatus();
}

// A file unpacked into <tmp_dir>/rootfs.
struct Unpacked {
  // The tree holds an OCI layout or a docker save tree (see ExtractResult).
  bool image_archive = false;
  // As a rootfs tarball's image; its record is written beside the tree (not synced yet).
  ImageRecord record;
};

absl::StatusOr<Unpacked> Unpack(const std::string& path, const std::string& tmp_dir,
                                const std::string& name, const ExtractLimits& limits,
                                ProgressMeter& meter) {
  const std::string rootfs = absl::StrCat(tmp_dir, "/rootfs");
  if (::mkdir(rootfs.c_str(), 0755) != 0) return ErrnoStatus(absl::StrCat("create ", rootfs));
  QUILT_ASSIGN_OR_RETURN(const ExtractResult extracted,
                         ExtractArchive(path, rootfs, limits, EntryFormat::kPlainTree, &meter,
                                        /*start_writeback=*/true));
  Unpacked unpacked;
  unpacked.image_archive = extracted.image_archive;
  if (unpacked.image_archive) return unpacked;
  ImageRecord& record = unpacked.record;
  record.digest = absl::StrCat(kDigestPrefix, extracted.sha256_hex);
  if (!name.empty()) record.names.push_back(name);
  record.size_bytes = extracted.size_bytes;
  record.created_at_ns = absl::GetCurrentTimeNanos();
  QUILT_RETURN_IF_ERROR(WriteRecord(tmp_dir, record));
  return unpacked;
}

// What tells a file that has not changed since it was last looked at, or nullopt when it
// cannot be told.
std::optional<FileIdentity> IdentityOf(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileIdentity{st.st_dev, st.st_ino, st.st_size, absl::TimeFromTimespec(st.st_mtim),
                      absl::TimeFromTimespec(st.st_ctim)};
}

std::string LayerDir(const std::string& layers_dir, const std::string& hex) {
  return absl::StrCat(layers_dir, "/", hex);
}

// The size recorded for a complete layer; NOT_FOUND when it is absent or incomplete.
absl::StatusOr<int64_t> LayerSize(const std::string& layer_dir) {
  absl::StatusOr<std::string> text = ReadSmallFile(absl::StrCat(layer_dir, "/", kLayerRecordFile));
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("no layer at ", layer_dir));
  const nlohmann::json json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || !json.contains("size_bytes") || !json["size_bytes"].is_number()) {
    return absl::NotFoundError(absl::StrCat("incomplete layer at ", layer_dir));
  }
  return json["size_bytes"].get<int64_t>();
}

}  // namespace

ImageStore::ImageStore(std::string images_dir, const ExtractLimits& limits)
    : images_dir_(std::move(images_dir)), limits_(limits) {}

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(const std::string& state_dir,
                                                             const ExtractLimits& limits) {
  if (state_dir.empty()) return absl::InvalidArgumentError("open image store: empty state dir");
  const std::string dir = absl::StrCat(state_dir, "/images");
  // 0700, like podman's storage: only root may walk the image trees (an image may hold
  // setgid dirs or secrets that its containers see but host users must not).
  QUILT_RETURN_IF_ERROR(Annotate(MakeDirs(dir, 0700), "open image store"));
  if (::chmod(dir.c_str(), 0700) != 0) {
    return ErrnoStatus(absl::StrCat("open image store: chmod ", dir));
  }
  // Resolved once so that every path handed to libarchive is absolute and symlink-free.
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) {
    return ErrnoStatus(absl::StrCat("open image store: resolve ", dir));
  }
  std::unique_ptr<ImageStore> store(new ImageStore(resolved, limits));
  QUILT_RETURN_IF_ERROR(Annotate(MakeDirs(store->LayersDir()), "open image store"));
  QUILT_RETURN_IF_ERROR(Annotate(store->LoadRecords(), "open image store"));
  {
    // A crash between removing an image and deleting its layers leaves them unlisted.
    absl::MutexLock lock(&store->layers_mu_);
    store->CollectLayers();
  }
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

absl::StatusOr<ImportResult> ImageStore::Import(const std::string& path, const std::string& name,
                                                const std::string& tag, ProgressMeter* meter) {
  ProgressMeter unwatched;
  ProgressMeter& progress = meter != nullptr ? *meter : unwatched;
  const std::string context = absl::StrCat("import ", path);
  if (!name.empty()) QUILT_RETURN_IF_ERROR(Annotate(ValidateName("name", name), context));
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    absl::StatusOr<ImportResult> imported = ImportLayout(path, name, tag, progress);
    if (!imported.ok()) return Annotate(imported.status(), context);
    return imported;
  }
  return ImportFile(path, name, tag, progress);
}

absl::StatusOr<ImportResult> ImageStore::ImportLayout(const std::string& layout_dir,
                                                      const std::string& name,
                                                      const std::string& tag,
                                                      ProgressMeter& meter) {
  UniqueFd layout(::open(layout_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!layout) return ErrnoStatus(absl::StrCat("open ", layout_dir));
  QUILT_ASSIGN_OR_RETURN(const ImageManifest manifest, ReadImageLayout(layout.get(), tag));
  ImageRecord record;
  record.digest = absl::StrCat(kDigestPrefix, manifest.id_hex);
  {
    absl::MutexLock lock(&mu_);
    QUILT_ASSIGN_OR_RETURN(std::optional<ImageRecord> existing, NameExisting(record.digest, name));
    if (existing.has_value()) return ImportResult{*std::move(existing), false};
  }
  if (!name.empty()) record.names.push_back(name);
  record.created_at_ns = absl::GetCurrentTimeNanos();
  record.config = manifest.config;
  const std::vector<int64_t> blob_bytes = BlobBytes(layout.get(), manifest.layers);
  int64_t total_bytes = 0;
  for (const int64_t bytes : blob_bytes) total_bytes += bytes;
  absl::MutexLock layers_lock(&layers_mu_);
  // Layers unpacked for an import that then fails belong to no image: drop them (runs
  // before the lock is released).
  absl::Cleanup collect = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { CollectLayers(); };
  meter.StartPass(ImportPhase::kUnpacking, total_bytes);
  const int layer_count = static_cast<int>(manifest.layers.size());
  for (int i = 0; i < layer_count; ++i) {
    const LayerBlob& blob = manifest.layers[i];
    meter.SetPhase(ImportPhase::kUnpacking, i + 1, layer_count);
    QUILT_ASSIGN_OR_RETURN(const int64_t size,
                           EnsureLayer(layout.get(), blob, blob_bytes[i], meter));
    record.size_bytes += size;
    record.layers.push_back(blob.sha256_hex);
  }
  QUILT_ASSIGN_OR_RETURN(const std::string tmp_dir, MakeTempDir(images_dir_));
  absl::Cleanup remove_tmp = [&tmp_dir] { RemoveTreeOrWarn(tmp_dir); };
  QUILT_RETURN_IF_ERROR(WriteRecord(tmp_dir, record));
  meter.SetPhase(ImportPhase::kSyncing);
  QUILT_RETURN_IF_ERROR(SyncFilesystem(tmp_dir));
  QUILT_RETURN_IF_ERROR(CheckNotCancelled(meter));
  bool unpacked = false;
  QUILT_ASSIGN_OR_RETURN(ImageRecord committed, Commit(tmp_dir, record, name, &unpacked));
  std::move(collect).Cancel();
  if (unpacked) std::move(remove_tmp).Cancel();
  QUILT_LOG(INFO) << "imported image " << committed.digest << " (" << record.layers.size()
                  << " layers) from " << layout_dir;
  return ImportResult{std::move(committed), unpacked};
}

absl::StatusOr<int64_t> ImageStore::EnsureLayer(int layout_fd, const LayerBlob& blob,
                                                int64_t blob_bytes, ProgressMeter& meter) {
  const std::string final_dir = LayerDir(LayersDir(), blob.sha256_hex);
  if (absl::StatusOr<int64_t> size = LayerSize(final_dir); size.ok()) {
    // Nothing to read: a cancellation shows at the next read or before publishing.
    meter.Advance(blob_bytes);
    return *size;
  }
  const std::string context = absl::StrCat("layer ", blob.path);
  absl::StatusOr<UniqueFd> fd = OpenBeneath(layout_fd, blob.path);
  if (!fd.ok()) return Annotate(fd.status(), context);
  QUILT_ASSIGN_OR_RETURN(const std::string tmp_dir, MakeTempDir(LayersDir()));
  absl::Cleanup remove_tmp = [&tmp_dir] { RemoveTreeOrWarn(tmp_dir); };
  const std::string diff = absl::StrCat(tmp_dir, "/diff");
  if (::mkdir(diff.c_str(), 0755) != 0) return ErrnoStatus(absl::StrCat("create ", diff));
  // The blob is read through its descriptor: the path was resolved once, beneath the layout.
  const ProgressReading at = meter.reading();
  absl::StatusOr<ExtractResult> extracted = ExtractArchive(
      absl::StrCat("/proc/self/fd/", fd->get()), diff, limits_, EntryFormat::kOciLayer, &meter,
      /*start_writeback=*/true);
  if (!extracted.ok()) return Annotate(extracted.status(), context);
  if (extracted->sha256_hex != blob.sha256_hex) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": content has digest sha256:", extracted->sha256_hex,
                     ", expected sha256:", blob.sha256_hex));
  }
  QUILT_RETURN_IF_ERROR(
      WriteFileAtomically(absl::StrCat(tmp_dir, "/", kLayerRecordFile),
                          nlohmann::json({{"size_bytes", extracted->size_bytes}}).dump() + "\n"));
  meter.SetPhase(ImportPhase::kSyncing, at.layer, at.layer_count);
  QUILT_RETURN_IF_ERROR(SyncFilesystem(tmp_dir));
  // A leftover incomplete directory of the same layer (a crash before layer.json) goes first.
  RemoveTreeOrWarn(final_dir);
  if (::rename(tmp_dir.c_str(), final_dir.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("rename ", tmp_dir, " to ", final_dir));
  }
  std::move(remove_tmp).Cancel();
  return extracted->size_bytes;
}

void ImageStore::CollectLayers() {
  absl::flat_hash_set<std::string> listed;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const ImageRecord& image : images_)
      listed.insert(image.layers.begin(), image.layers.end());
  }
  absl::StatusOr<std::vector<std::string>> entries = ListDir(LayersDir());
  if (!entries.ok()) {
    QUILT_LOG(WARNING) << "image store: " << entries.status().message();
    return;
  }
  for (const std::string& entry : *entries) {
    if (listed.contains(entry)) continue;
    QUILT_LOG(INFO) << "image store: removing unused layer " << entry;
    RemoveTreeOrWarn(LayerDir(LayersDir(), entry));
  }
}

absl::StatusOr<ImportResult> ImageStore::ImportFile(const std::string& path,
                                                    const std::string& name, const std::string& tag,
                                                    ProgressMeter& meter) {
  const std::string context = absl::StrCat("import ", path);
  // O_NONBLOCK: opening a FIFO must not hang; the extraction refuses anything but a file.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return Annotate(ErrnoStatus("open archive"), context);
  // Files imported without a tag are remembered: with one, the file's image depends on it.
  const std::optional<FileIdentity> identity =
      tag.empty() ? IdentityOf(fd.get()) : std::optional<FileIdentity>();
  if (absl::StatusOr<std::optional<ImageRecord>> known = NameImportedFile(identity, name);
      !known.ok() || known->has_value()) {
    if (!known.ok()) return Annotate(known.status(), context);
    return ImportResult{**std::move(known), false};
  }
  absl::StatusOr<std::string> tmp = MakeTempDir(images_dir_);
  if (!tmp.ok()) return Annotate(tmp.status(), context);
  const std::string tmp_dir = *std::move(tmp);
  // Runs on every path but a published import, after the lock is released (deleting a
  // large tree is slow).
  absl::Cleanup remove_tmp = [&tmp_dir] { RemoveTreeOrWarn(tmp_dir); };
  // Extraction runs without the lock: imports of different files proceed in parallel. What
  // the file is comes out of the same read: an image archive holds an OCI layout or a
  // docker save tree, whose image is then imported from the unpacked tree. The digest comes
  // with it too: a store that has the same bytes from another file gets the name, and this
  // unpack is dropped.
  meter.StartPass(ImportPhase::kUnpacking, FileBytes(fd.get()));
  absl::StatusOr<Unpacked> unpacked_file =
      Unpack(absl::StrCat("/proc/self/fd/", fd.get()), tmp_dir, name, limits_, meter);
  if (!unpacked_file.ok()) return Annotate(unpacked_file.status(), context);
  if (unpacked_file->image_archive) {
    absl::StatusOr<ImportResult> imported =
        ImportLayout(absl::StrCat(tmp_dir, "/rootfs"), name, tag, meter);
    if (!imported.ok()) return Annotate(imported.status(), context);
    RememberFile(identity, fd.get(), imported->image.digest);
    return imported;
  }
  if (!tag.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(context,
                     ": a tag picks an image of an OCI or docker archive; this is a "
                     "rootfs tarball"));
  }
  const ImageRecord& record = unpacked_file->record;
  bool unpacked = false;
  absl::StatusOr<ImageRecord> committed = SyncAndCommit(tmp_dir, record, name, meter, &unpacked);
  if (!committed.ok()) return Annotate(committed.status(), context);
  if (unpacked) std::move(remove_tmp).Cancel();
  RememberFile(identity, fd.get(), committed->digest);
  QUILT_LOG(INFO) << "imported " << path << " as " << committed->digest
                  << (unpacked ? "" : " (already present)");
  return ImportResult{*std::move(committed), unpacked};
}

void ImageStore::RememberFile(const std::optional<FileIdentity>& identity, int fd,
                              const std::string& digest) {
  // Read again after the unpack: a file written meanwhile is not known by what was unpacked.
  if (!identity.has_value() || identity != IdentityOf(fd)) return;
  absl::MutexLock lock(&mu_);
  if (imported_files_.size() >= kMaxImportedFiles) imported_files_.clear();
  imported_files_[*identity] = digest;
}

absl::StatusOr<std::optional<ImageRecord>> ImageStore::NameImportedFile(
    const std::optional<FileIdentity>& identity, const std::string& name) {
  if (!identity.has_value()) return std::optional<ImageRecord>();
  absl::MutexLock lock(&mu_);
  const auto it = imported_files_.find(*identity);
  if (it == imported_files_.end()) return std::optional<ImageRecord>();
  // An image removed since has to be unpacked again.
  return NameExisting(it->second, name);
}

absl::StatusOr<ImageRecord> ImageStore::SyncAndCommit(const std::string& tmp_dir,
                                                      const ImageRecord& record,
                                                      const std::string& name, ProgressMeter& meter,
                                                      bool* unpacked) {
  {
    absl::MutexLock lock(&mu_);
    QUILT_ASSIGN_OR_RETURN(std::optional<ImageRecord> existing, NameExisting(record.digest, name));
    if (existing.has_value()) {
      *unpacked = false;
      return *std::move(existing);
    }
  }
  meter.SetPhase(ImportPhase::kSyncing);
  QUILT_RETURN_IF_ERROR(SyncFilesystem(tmp_dir));
  QUILT_RETURN_IF_ERROR(CheckNotCancelled(meter));
  return Commit(tmp_dir, record, name, unpacked);
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
  absl::MutexLock lock(&layers_mu_);
  CollectLayers();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ImageStore::LowerDirs(const std::string& digest) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto it = std::find_if(images_.begin(), images_.end(),
                               [&](const ImageRecord& r) { return r.digest == digest; });
  if (it == images_.end()) return absl::NotFoundError(absl::StrCat("no such image: ", digest));
  if (it->layers.empty())
    return std::vector<std::string>{absl::StrCat(ImageDir(digest), "/rootfs")};
  std::vector<std::string> dirs;
  for (auto layer = it->layers.rbegin(); layer != it->layers.rend(); ++layer) {
    dirs.push_back(absl::StrCat(LayerDir(LayersDir(), *layer), "/diff"));
  }
  return dirs;
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
