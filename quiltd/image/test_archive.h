// Test helpers: archives built entry by entry with libarchive's writer (so tests can build
// hostile ones), and scratch directories.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace quilt::testing {

enum class EntryType { kFile, kDir, kSymlink, kHardlink, kCharDevice, kBlockDevice, kFifo };

struct TestEntry {
  std::string path = {};
  EntryType type = EntryType::kFile;
  std::string data = {};    // contents of a kFile
  std::string target = {};  // target of a kSymlink or kHardlink
  int mode = 0644;
};

enum class Compression { kNone, kGzip, kXz, kZstd, kBzip2 };

// Writes a pax tar of `entries` to `path`, compressed as asked.
absl::Status WriteTestArchive(const std::string& path, const std::vector<TestEntry>& entries,
                              Compression compression = Compression::kNone);

// Writes `data` to `path` (replacing it).
absl::Status WriteFile(const std::string& path, const std::string& data);
absl::StatusOr<std::string> ReadFile(const std::string& path);

// Lowercase hex SHA-256 of the file's bytes.
absl::StatusOr<std::string> Sha256File(const std::string& path);

// Sorted names in `dir` (without "." and "..").
std::vector<std::string> ListNames(const std::string& dir);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace quilt::testing
