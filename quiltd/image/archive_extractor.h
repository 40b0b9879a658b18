// Secure, single-pass extraction of a tarball that also computes the SHA-256 of its bytes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace quilt {

// Entries larger than this are refused (a rootfs has no reason to hold one).
inline constexpr int64_t kMaxArchiveEntryBytes = int64_t{64} << 30;
// Archives with more entries than this are refused (bounds inode use and time).
inline constexpr int64_t kMaxArchiveEntries = 2'000'000;

struct ExtractLimits {
  int64_t max_entry_bytes = kMaxArchiveEntryBytes;
  int64_t max_entries = kMaxArchiveEntries;
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
};

// 64 lowercase hex digits of the SHA-256 of the file's bytes. NOT_FOUND when it is missing.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

// Extracts the tar archive at `archive_path` (plain or gzip/xz/lzma/zstd/bzip2 compressed,
// detected from content) into `dest_dir`, an existing directory given as an absolute path
// without symlinks, and hashes every byte of the file in the same read. Never uses the
// process's working directory.
// Every entry is checked before anything is written for it: absolute paths, ".."
// components, hard links whose target is absolute or holds "..", char and block devices,
// entries above `limits.max_entry_bytes` and archives above `limits.max_entries` fail with
// INVALID_ARGUMENT "entry \"<name>\": <why>"; so does writing through a symlink (a whiteout
// too). Fails with NOT_FOUND when the file is missing, INVALID_ARGUMENT when it is empty, not
// an archive or truncated, RESOURCE_EXHAUSTED when the disk is full. On failure `dest_dir`
// may hold a partial tree: the caller removes it.
absl::StatusOr<ExtractResult> ExtractArchive(const std::string& archive_path,
                                             const std::string& dest_dir,
                                             const ExtractLimits& limits = {},
                                             EntryFormat format = EntryFormat::kPlainTree);

}  // namespace quilt
