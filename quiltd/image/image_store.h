// The image store: rootfs tarballs imported once, unpacked once, addressed by sha256.
//
// Layout under <state>/images/:
//   <hex>/rootfs/      the unpacked tree (overlay lower dir for every container of the image)
//   <hex>/image.json   ImageRecord (digest, names, size, created_at)
//   .tmp-<random>/     an import in progress; anything named .tmp-* is garbage at start-up
// An image directory is complete iff image.json exists in it: import extracts into a temp
// directory and renames it into place only after extraction and the record are written.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "quiltd/image/archive_extractor.h"

namespace quilt {

struct ImageRecord {
  std::string digest;  // "sha256:<64 hex>" of the imported file's bytes
  std::vector<std::string> names;
  int64_t size_bytes = 0;  // sum of regular file sizes in the rootfs
  int64_t created_at_ns = 0;
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

  // Imports the tarball at `path` (tar, gzip, xz, zstd, bzip2: detected from content).
  // `name`, if not empty, is added to the image's names (and taken from any other image).
  // Fails with NOT_FOUND when the file is missing, INVALID_ARGUMENT when it is not an
  // archive or holds a hostile entry (absolute path, "..", a link escaping the rootfs, a
  // device node), RESOURCE_EXHAUSTED when the disk is full or the archive is above a limit.
  // On failure the store is unchanged.
  absl::StatusOr<ImportResult> Import(const std::string& path, const std::string& name);

  // Finds an image by name, full digest ("sha256:<hex>" or "<hex>") or unique hex prefix.
  // NOT_FOUND when nothing matches; INVALID_ARGUMENT when a prefix is ambiguous.
  absl::StatusOr<ImageRecord> Resolve(const std::string& ref) const;

  // All images, newest first.
  std::vector<ImageRecord> List() const;

  // Deletes the image's directory. The caller checks that no container uses it.
  absl::Status Remove(const std::string& digest);

  // The unpacked rootfs directory of an image (absolute).
  std::string RootfsDir(const std::string& digest) const;

 private:
  ImageStore(std::string images_dir, const ExtractLimits& limits);
  absl::Status LoadRecords();

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

  const std::string images_dir_;
  const ExtractLimits limits_;
  mutable absl::Mutex mu_;
  std::vector<ImageRecord> images_ ABSL_GUARDED_BY(mu_);
};

}  // namespace quilt
