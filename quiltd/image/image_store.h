// The image store: rootfs tarballs and OCI/docker images imported once, unpacked once,
// addressed by sha256.
//
// Layout under <state>/images/:
//   <hex>/rootfs/             a rootfs tarball's unpacked tree (the overlay lower dir of its
//                             containers)
//   <hex>/image.json          ImageRecord (digest, names, size, created_at, layers, config)
//   layers/<hex>/diff/        one unpacked image layer in overlayfs form, shared by every
//                             image listing it and removed with the last of them
//   layers/<hex>/layer.json   its size; a layer directory is complete iff this exists
//   .tmp-<random>/, layers/.tmp-<random>/
//                             an import in progress; anything named .tmp-* is garbage at
//                             start-up
// An image directory is complete iff image.json exists in it: import extracts into a temp
// directory and renames it into place only after extraction and the record are written.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "quiltd/image/archive_extractor.h"
#include "quiltd/image/oci_image.h"
#include "quiltd/image/progress_meter.h"

namespace quilt {

struct ImageRecord {
  // "sha256:<64 hex>": of a rootfs tarball's bytes, of an OCI image's manifest, of a docker
  // image's config.
  std::string digest;
  std::vector<std::string> names;
  int64_t size_bytes = 0;  // sum of regular file sizes in the rootfs (all layers)
  int64_t created_at_ns = 0;
  // Hex digests of the layers, bottom first; empty for a rootfs tarball.
  std::vector<std::string> layers;
  // Defaults for its containers (empty for a rootfs tarball).
  ImageConfig config;
};

// A file as fstat(2) sees it: a regular file with the same identity has not been written
// since (writes change the ctime).
struct FileIdentity {
  dev_t dev;
  ino_t ino;
  off_t size;
  absl::Time mtime;
  absl::Time ctime;

  bool operator==(const FileIdentity&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const FileIdentity& f) {
    return H::combine(std::move(h), f.dev, f.ino, f.size, f.mtime, f.ctime);
  }
};

struct ImportResult {
  ImageRecord image;
  bool unpacked = false;  // false: the same bytes were already in the store
};

class ImageStore {
 public:
  // Opens (creating) <state_dir>/images and removes leftover .tmp-* directories. Imports are
  // held to `limits`.
  static absl::StatusOr<std::unique_ptr<ImageStore>> Open(const std::string& state_dir,
                                                          const ExtractLimits& limits = {});

  // Imports what `path` holds: an OCI image layout or docker-save directory, the same in a
  // tar (oci-archive, `docker save` output; compressed or not), or else a rootfs tarball
  // (tar, gzip, xz, zstd, bzip2: detected from content). `tag` picks one image of a layout holding
  // several. `name`, if not empty, is added to the image's names (and taken from any other
  // image). Layers already in the store are not unpacked again.
  // Fails with NOT_FOUND when the file (or tag) is missing, INVALID_ARGUMENT when it is not
  // an archive or image, a digest does not match, or it holds a hostile entry (absolute
  // path, "..", a link escaping the rootfs, a device node), RESOURCE_EXHAUSTED when the disk
  // is full or the archive is above a limit. On failure the store is unchanged.
  // With a `meter`, the import reports its passes and phases on it (see progress_meter.h):
  // a file is unpacked (and hashed in the same read), then a rootfs tarball is synced, unless
  // the same unchanged file was imported before (then nothing is read); an image archive's
  // tree is the layout its image is then imported from; an image's layers are unpacked and synced
  // one by one, in one pass over all their blobs. A meter cancelled before the image is published
  // fails the import with CANCELLED, leaving the store unchanged.
  absl::StatusOr<ImportResult> Import(const std::string& path, const std::string& name,
                                      const std::string& tag = "", ProgressMeter* meter = nullptr);

  // Finds an image by name, full digest ("sha256:<hex>" or "<hex>") or unique hex prefix.
  // NOT_FOUND when nothing matches; INVALID_ARGUMENT when a prefix is ambiguous.
  absl::StatusOr<ImageRecord> Resolve(const std::string& ref) const;

  // All images, newest first.
  std::vector<ImageRecord> List() const;

  // Deletes the image's directory and the layers no other image lists. The caller checks
  // that no container uses it.
  absl::Status Remove(const std::string& digest);

  // The directories whose overlay is the image's rootfs, topmost first (absolute).
  // NOT_FOUND when the image is not in the store.
  absl::StatusOr<std::vector<std::string>> LowerDirs(const std::string& digest) const;

 private:
  ImageStore(std::string images_dir, const ExtractLimits& limits);
  absl::Status LoadRecords();

  // Imports a rootfs tarball or an image archive (oci-archive, docker save), told apart by
  // what it holds, in one read of the file.
  absl::StatusOr<ImportResult> ImportFile(const std::string& path, const std::string& name,
                                          const std::string& tag, ProgressMeter& meter)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Remembers that the file `fd`, which had `identity` before it was read, holds the image
  // `digest`, unless it changed meanwhile.
  void RememberFile(const std::optional<FileIdentity>& identity, int fd, const std::string& digest)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The image a file with `identity` was imported as, if it is still in the store, given
  // `name` (when not empty).
  absl::StatusOr<std::optional<ImageRecord>> NameImportedFile(
      const std::optional<FileIdentity>& identity, const std::string& name)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Publishes the unpacked rootfs in `tmp_dir` as Commit does, syncing it first, unless the
  // store already holds its digest (then `tmp_dir` is left alone).
  absl::StatusOr<ImageRecord> SyncAndCommit(const std::string& tmp_dir, const ImageRecord& record,
                                            const std::string& name, ProgressMeter& meter,
                                            bool* unpacked) ABSL_LOCKS_EXCLUDED(mu_);
  // Imports the image of the layout directory `layout_dir` (see oci_image.h).
  absl::StatusOr<ImportResult> ImportLayout(const std::string& layout_dir, const std::string& name,
                                            const std::string& tag, ProgressMeter& meter)
      ABSL_LOCKS_EXCLUDED(layers_mu_);
  // Makes sure layer `blob` of the layout `layout_fd` is unpacked in the store; returns the
  // size of its files. A layer already there counts as `blob_bytes` read on the meter.
  absl::StatusOr<int64_t> EnsureLayer(int layout_fd, const LayerBlob& blob, int64_t blob_bytes,
                                      ProgressMeter& meter)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(layers_mu_);
  // Deletes layer directories that no image lists (and interrupted layer imports).
  void CollectLayers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(layers_mu_) ABSL_LOCKS_EXCLUDED(mu_);

  // Publishes the extracted temp dir `tmp_dir` as a new image, or adds `name` to the image
  // already holding the same digest (then *unpacked is false and `tmp_dir` is left alone).
  absl::StatusOr<ImageRecord> Commit(const std::string& tmp_dir, const ImageRecord& record,
                                     const std::string& name, bool* unpacked)
      ABSL_LOCKS_EXCLUDED(mu_);

  // If an image with `digest` is present, gives it `name` (when not empty) and returns it.
  absl::StatusOr<std::optional<ImageRecord>> NameExisting(const std::string& digest,
                                                          const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Removes `name` from every image but `keep_digest`, rewriting their image.json.
  absl::Status ReleaseName(const std::string& name, const std::string& keep_digest)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ImageRecord* FindLocked(const std::string& digest) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string ImageDir(const std::string& digest) const;
  std::string LayersDir() const { return images_dir_ + "/layers"; }

  const std::string images_dir_;
  const ExtractLimits limits_;
  // Held while layers are unpacked for an image and while unused layers are deleted, so a
  // layer an import counts on is never collected under it. Taken before mu_.
  absl::Mutex layers_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::vector<ImageRecord> images_ ABSL_GUARDED_BY(mu_);
  // Files imported (without a tag) since start-up, by identity, and the image each held:
  // importing the same unchanged file again reads nothing. Cleared at kMaxImportedFiles.
  static constexpr size_t kMaxImportedFiles = 4096;
  absl::flat_hash_map<FileIdentity, std::string> imported_files_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quilt
