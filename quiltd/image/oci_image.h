// Reading container images in the two layouts tools write: an OCI image layout (what umoci,
// `skopeo copy oci:` and `buildah push oci:` produce; `oci-archive:` is the same tree in a
// tar) and a `docker save` tree (manifest.json, config JSON, one tar per layer).
//
// Nothing here unpacks a layer: this turns a layout directory into the ordered list of layer
// blobs and the config an image runs with, checking every digest it can on the way.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"

namespace quilt {

// The defaults a container of the image runs with (the image config's "config" object).
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string working_dir;
  std::string user;
};

// One layer blob of a layout, bottom first in ImageManifest::layers.
struct LayerBlob {
  std::string path;  // relative to the layout directory
  // Hex SHA-256 the blob's bytes must have: the manifest's descriptor digest (OCI) or the
  // config's diff_id (docker save, whose layers are uncompressed tars).
  std::string sha256_hex;
};

struct ImageManifest {
  // Hex SHA-256 naming the image: the manifest's digest (OCI) or the config's (docker save,
  // as `docker images` shows it).
  std::string id_hex;
  ImageConfig config;
  std::vector<LayerBlob> layers;
};

// True when the directory holds an OCI layout ("oci-layout") or a docker save
// ("manifest.json").
bool IsImageLayout(int dir_fd);

// Reads the image of the layout directory `dir_fd`. With several images in it, `tag` picks
// the one whose OCI ref name or docker RepoTag ends with it; empty picks the only one.
// INVALID_ARGUMENT when a file is malformed, a digest does not match, a path leaves the
// directory, or the choice is ambiguous; NOT_FOUND when `tag` matches nothing.
absl::StatusOr<ImageManifest> ReadImageLayout(int dir_fd, const std::string& tag);

// Opens `path` (relative) below `dir_fd` for reading, refusing any resolution that would
// leave the directory (absolute symlinks, "..", magic links): layouts come from archives.
absl::StatusOr<UniqueFd> OpenBeneath(int dir_fd, const std::string& path);

}  // namespace quilt
