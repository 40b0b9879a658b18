// Builds hostile tar archives for the attack suites: entry by entry with libarchive's
// writer (sparse files, xattrs, device nodes, links), plus raw bytes libarchive would never
// write (hand-made ustar headers, concatenated compressed members for decompression bombs).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct archive;

namespace quilt::testing {

enum class TarFilter { kNone, kGzip, kXz, kZstd, kBzip2 };

class TarBuilder {
 public:
  // Starts a pax archive at `path`, compressed with `filter`. Errors are kept and reported
  // by Close, so entries can be chained.
  TarBuilder(const std::string& path, TarFilter filter = TarFilter::kNone);
  ~TarBuilder();
  TarBuilder(const TarBuilder&) = delete;
  TarBuilder& operator=(const TarBuilder&) = delete;

  TarBuilder& File(const std::string& name, const std::string& data, int mode = 0644,
                   const std::map<std::string, std::string>& xattrs = {});
  TarBuilder& Dir(const std::string& name, int mode = 0755);
  TarBuilder& Symlink(const std::string& name, const std::string& target);
  // A hard link; pax allows it to carry data, which libarchive writes into the link.
  TarBuilder& Hardlink(const std::string& name, const std::string& target,
                       const std::string& data = "");
  // A char/block device, fifo or socket (`type` is AE_IFCHR, ...).
  TarBuilder& Node(const std::string& name, mode_t type, int mode = 0644);
  // A sparse file of `logical_bytes` holding 4 KiB of data at its end.
  TarBuilder& Sparse(const std::string& name, int64_t logical_bytes);

  absl::Status Close();

 private:
  struct ArchiveFree {
    void operator()(struct archive* a) const;
  };
  void Fail(const char* what);

  std::unique_ptr<struct archive, ArchiveFree> archive_;
  absl::Status status_;
};

// A 512-byte ustar header block for a regular file (typeflag '0') or any other `typeflag`,
// with `size` in octal (at most 8 GiB - 1).
std::string UstarHeader(const std::string& name, int64_t size, char typeflag = '0');

// `data` as one compressed member (gzip member, xz stream, zstd frame, bzip2 stream).
absl::StatusOr<std::string> Compress(const std::string& data, TarFilter filter);

// Writes `head` compressed, then `repeats` members each inflating to `zeros_per_member`
// zero bytes: a small file that inflates to head + repeats * zeros_per_member bytes.
absl::Status WriteBomb(const std::string& path, const std::string& head, TarFilter filter,
                       int64_t repeats, int64_t zeros_per_member);

}  // namespace quilt::testing
