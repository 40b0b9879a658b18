#include "quiltd/image/test_image_layout.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/fs.h"
#include "nlohmann/json.hpp"

namespace quilt::testing {
namespace {

using Json = nlohmann::json;

Json ConfigJson(const TestImage& image, const std::vector<std::string>& diff_ids) {
  Json config = Json::object();
  if (!image.config.entrypoint.empty()) config["Entrypoint"] = image.config.entrypoint;
  if (!image.config.cmd.empty()) config["Cmd"] = image.config.cmd;
  if (!image.config.env.empty()) config["Env"] = image.config.env;
  if (!image.config.working_dir.empty()) config["WorkingDir"] = image.config.working_dir;
  if (!image.config.user.empty()) config["User"] = image.config.user;
  Json ids = Json::array();
  for (const std::string& hex : diff_ids) ids.push_back("sha256:" + hex);
  return {{"architecture", "amd64"},
          {"os", "linux"},
          {"config", config},
          {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}};
}

// Moves the file at `tmp` to <dir>/blobs/sha256/<its digest>; returns the digest.
absl::StatusOr<std::string> StoreBlobFile(const std::string& dir, const std::string& tmp) {
  absl::StatusOr<std::string> hex = Sha256File(tmp);
  if (!hex.ok()) return hex.status();
  const std::string blob = absl::StrCat(dir, "/blobs/sha256/", *hex);
  if (::rename(tmp.c_str(), blob.c_str()) != 0) return absl::InternalError("rename blob");
  return *hex;
}

absl::StatusOr<std::string> StoreBlob(const std::string& dir, const std::string& bytes) {
  const std::string tmp = dir + "/blob.tmp";
  if (absl::Status s = WriteFile(tmp, bytes); !s.ok()) return s;
  return StoreBlobFile(dir, tmp);
}

Json Descriptor(absl::string_view media_type, const std::string& hex, int64_t size) {
  return {{"mediaType", media_type}, {"digest", "sha256:" + hex}, {"size", size}};
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

absl::StatusOr<WrittenImage> WriteOciImage(const std::string& dir, const TestImage& image,
                                           Json& index_manifests) {
  WrittenImage written;
  std::vector<std::string> diff_ids;
  Json layers = Json::array();
  for (const std::vector<TestEntry>& entries : image.layers) {
    const std::string plain = dir + "/layer.tar";
    if (absl::Status s = WriteTestArchive(plain, entries); !s.ok()) return s;
    absl::StatusOr<std::string> diff_id = Sha256File(plain);
    if (!diff_id.ok()) return diff_id.status();
    diff_ids.push_back(*diff_id);
    ::unlink(plain.c_str());
    const std::string gz = dir + "/layer.tar.gz";
    if (absl::Status s = WriteTestArchive(gz, entries, Compression::kGzip); !s.ok()) return s;
    const int64_t size = FileSize(gz);
    absl::StatusOr<std::string> hex = StoreBlobFile(dir, gz);
    if (!hex.ok()) return hex.status();
    written.layer_hexes.push_back(*hex);
    layers.push_back(Descriptor("application/vnd.oci.image.layer.v1.tar+gzip", *hex, size));
  }
  const std::string config = ConfigJson(image, diff_ids).dump();
  absl::StatusOr<std::string> config_hex = StoreBlob(dir, config);
  if (!config_hex.ok()) return config_hex.status();
  const std::string manifest = Json{
      {"schemaVersion", 2},
      {"config", Descriptor("application/vnd.oci.image.config.v1+json", *config_hex,
                            static_cast<int64_t>(config.size()))},
      {"layers", layers}}.dump();
  absl::StatusOr<std::string> manifest_hex = StoreBlob(dir, manifest);
  if (!manifest_hex.ok()) return manifest_hex.status();
  written.id_hex = *manifest_hex;
  Json entry = Descriptor("application/vnd.oci.image.manifest.v1+json", *manifest_hex,
                          static_cast<int64_t>(manifest.size()));
  if (!image.tag.empty()) {
    entry["annotations"] = {{"org.opencontainers.image.ref.name", image.tag}};
  }
  index_manifests.push_back(entry);
  return written;
}

// Adds every file, directory and symlink below `dir` + `rel` to `entries`.
absl::Status Collect(const std::string& dir, const std::string& rel,
                     std::vector<TestEntry>& entries) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir((dir + "/" + rel).c_str()), ::closedir);
  if (d == nullptr) return absl::InternalError("opendir " + dir + "/" + rel);
  while (const struct dirent* ent = ::readdir(d.get())) {
    const std::string name = ent->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = rel.empty() ? name : rel + "/" + name;
    const std::string full = dir + "/" + path;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return absl::InternalError("lstat " + full);
    if (S_ISDIR(st.st_mode)) {
      entries.push_back({.path = path, .type = EntryType::kDir, .mode = 0755});
      if (absl::Status s = Collect(dir, path, entries); !s.ok()) return s;
    } else if (S_ISLNK(st.st_mode)) {
      char target[4096];
      const ssize_t n = ::readlink(full.c_str(), target, sizeof(target));
      if (n < 0) return absl::InternalError("readlink " + full);
      entries.push_back(
          {.path = path, .type = EntryType::kSymlink, .target = std::string(target, n)});
    } else {
      absl::StatusOr<std::string> data = ReadFile(full);
      if (!data.ok()) return data.status();
      entries.push_back({.path = path, .data = *data});
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<WrittenImage>> WriteOciLayout(const std::string& dir,
                                                         const std::vector<TestImage>& images) {
  if (absl::Status s = MakeDirs(dir + "/blobs/sha256"); !s.ok()) return s;
  Json manifests = Json::array();
  std::vector<WrittenImage> written;
  for (const TestImage& image : images) {
    absl::StatusOr<WrittenImage> one = WriteOciImage(dir, image, manifests);
    if (!one.ok()) return one.status();
    written.push_back(*one);
  }
  if (absl::Status s = WriteFile(dir + "/index.json",
                                 Json{{"schemaVersion", 2}, {"manifests", manifests}}.dump());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFile(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
      !s.ok()) {
    return s;
  }
  return written;
}

absl::StatusOr<WrittenImage> WriteDockerSave(const std::string& dir, const TestImage& image) {
  WrittenImage written;
  Json layer_paths = Json::array();
  for (size_t i = 0; i < image.layers.size(); ++i) {
    const std::string rel = absl::StrCat("layer", i, "/layer.tar");
    if (absl::Status s = MakeDirs(absl::StrCat(dir, "/layer", i)); !s.ok()) return s;
    if (absl::Status s = WriteTestArchive(dir + "/" + rel, image.layers[i]); !s.ok()) return s;
    absl::StatusOr<std::string> hex = Sha256File(dir + "/" + rel);
    if (!hex.ok()) return hex.status();
    written.layer_hexes.push_back(*hex);
    layer_paths.push_back(rel);
  }
  const std::string config = ConfigJson(image, written.layer_hexes).dump();
  const std::string config_path = dir + "/config.json";
  if (absl::Status s = WriteFile(config_path, config); !s.ok()) return s;
  absl::StatusOr<std::string> config_hex = Sha256File(config_path);
  if (!config_hex.ok()) return config_hex.status();
  written.id_hex = *config_hex;
  Json tags = Json::array();
  if (!image.tag.empty()) tags.push_back("quilt/test:" + image.tag);
  const Json manifest =
      Json::array({{{"Config", "config.json"}, {"RepoTags", tags}, {"Layers", layer_paths}}});
  if (absl::Status s = WriteFile(dir + "/manifest.json", manifest.dump()); !s.ok()) return s;
  return written;
}

absl::Status TarDirectory(const std::string& dir, const std::string& archive,
                          Compression compression) {
  std::vector<TestEntry> entries;
  if (absl::Status s = Collect(dir, "", entries); !s.ok()) return s;
  return WriteTestArchive(archive, entries, compression);
}

}  // namespace quilt::testing
