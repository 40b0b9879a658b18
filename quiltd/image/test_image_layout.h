// Test helpers: OCI image layouts and `docker save` trees written file by file, so tests can
// build both well-formed and hostile images without any image tool.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quiltd/image/oci_image.h"
#include "quiltd/image/test_archive.h"

namespace quilt::testing {

struct TestImage {
  std::vector<std::vector<TestEntry>> layers;  // bottom first
  ImageConfig config;
  std::string tag;  // the OCI ref name / docker RepoTag suffix; empty for none
};

// The digests ("<hex>") a layout writer produced.
struct WrittenImage {
  std::string id_hex;                    // manifest (OCI) or config (docker) digest
  std::vector<std::string> layer_hexes;  // bottom first
};

// Writes an OCI image layout holding `images` (gzip layers) into the existing `dir`.
absl::StatusOr<std::vector<WrittenImage>> WriteOciLayout(const std::string& dir,
                                                         const std::vector<TestImage>& images);

// Writes a `docker save` tree of `image` (uncompressed layer tars) into the existing `dir`.
absl::StatusOr<WrittenImage> WriteDockerSave(const std::string& dir, const TestImage& image);

// Writes a tar of every file below `dir` (as oci-archive and docker save archives are,
// uncompressed unless asked) to `archive`.
absl::Status TarDirectory(const std::string& dir, const std::string& archive,
                          Compression compression = Compression::kNone);

}  // namespace quilt::testing
