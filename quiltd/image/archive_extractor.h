// Secure, single-pass extraction of a tarball that also computes the SHA-256 of its bytes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "quiltd/image/progress_meter.h"

namespace quilt {

// Entries larger than this are refused (a rootfs has no reason to hold one).
inline constexpr int64_t kMaxArchiveEntryBytes = int64_t{64} << 30;
// Archives with more entries than this are refused (bounds inode use and time; a full
// Debian rootfs has ~20k, a large application image a few 100k).
inline constexpr int64_t kMaxArchiveEntries = 1'000'000;
// Archives whose entries declare more bytes than this in all are refused: it bounds the
// disk an import may fill and the data a decompression bomb may make quiltd inflate.
inline constexpr int64_t kMaxArchiveTotalBytes = int64_t{16} << 30;

struct ExtractLimits {
  int64_t max_entry_bytes = kMaxArchiveEntryBytes;
  int64_t max_entries = kMaxArchiveEntries;
  int64_t max_total_bytes = kMaxArchiveTotalBytes;
};

// How an archive's entries become files.
enum class EntryFormat {
  // A rootfs tarball: every entry is a file of the tree.
  kPlainTree,
  // An OCI/docker image layer: an entry "<dir>/.wh.<name>" deletes <name> of the layers below
  // and "<dir>/.wh..wh..opq" hides everything below <dir> in them. They are written as
  // overlayfs reads lower layers: a 0/0 character device and the "trusted.overlay.opaque"
  // xattr on the directory.
  kOciLayer,
};

struct ExtractResult {
  std::string sha256_hex;  // 64 lowercase hex digits of the whole file's bytes
  int64_t size_bytes = 0;  // sum of the sizes of regular files (hard links not counted)
  int64_t entries = 0;
  int64_t declared_bytes = 0;  // sum of every entry's declared size, checked against the limit
  // A regular file "oci-layout" or "manifest.json" at the top: the archive is an image
  // (oci-archive, docker save), not a rootfs.
  bool image_archive = false;
};

// Extracts the tar archive at `archive_path` (plain or gzip/xz/lzma/zstd/bzip2 compressed,
// detected from content) into `dest_dir`, an existing directory given as an absolute path
// without symlinks, and hashes every byte of the file in the same read. The file is read,
// hashed and decompressed on a thread of its own (inflater.h); entries are written through
// directory fds without following any symlink (quiltd/copy/tree_writer.h). With
// `start_writeback`, for a caller that syncs the tree next, files go to the disk as they are
// written (quiltd/copy/writeback.h).
// Every entry is checked before anything is written for it: absolute paths, ".."
// components, hard links whose target is absolute or holds "..", char and block devices fail
// with INVALID_ARGUMENT "entry \"<name>\": <why>"; so does writing through a symlink (a
// whiteout too). An
// entry above `limits.max_entry_bytes`, more than `limits.max_entries` entries, or declared
// sizes (of every entry, sparse files at their full length) summing above
// `limits.max_total_bytes` fail with RESOURCE_EXHAUSTED, before the data is inflated.
// Setuid and setgid bits are dropped from everything but directories: every container runs
// with no_new_privs, so they do nothing inside, and on the host they would be setuid-root
// programs. Extended attributes, ACLs and file flags are never restored. Fails with
// NOT_FOUND when the file is missing, INVALID_ARGUMENT when it is empty, not an archive or
// truncated, RESOURCE_EXHAUSTED when the disk is full. With a `meter`, every byte of the file
// read is counted on it (the whole file by the end), and a cancelled meter stops the
// extraction with CANCELLED. On failure `dest_dir` may hold a partial tree: the caller
// removes it.
absl::StatusOr<ExtractResult> ExtractArchive(const std::string& archive_path,
                                             const std::string& dest_dir,
                                             const ExtractLimits& limits = {},
                                             EntryFormat format = EntryFormat::kPlainTree,
                                             ProgressMeter* meter = nullptr,
                                             bool start_writeback = false);

}  // namespace quilt
