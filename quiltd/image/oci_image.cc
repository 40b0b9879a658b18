#include "quiltd/image/oci_image.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace quilt {
namespace {

using Json = nlohmann::json;

// Manifests, indexes and configs are small; a bigger one is hostile, not an image.
constexpr off_t kMaxMetadataBytes = off_t{4} << 20;
// Nested indexes (an index pointing at an index) are followed this deep.
constexpr int kMaxIndexDepth = 4;
constexpr char kRefNameAnnotation[] = "org.opencontainers.image.ref.name";
constexpr absl::string_view kIndexMediaType = "application/vnd.oci.image.index.v1+json";
constexpr absl::string_view kDockerListMediaType =
    "application/vnd.docker.distribution.manifest.list.v2+json";

absl::Status Malformed(absl::string_view what, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", why));
}

bool IsHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
}

// The hex of a "sha256:<hex>" digest; INVALID_ARGUMENT for another algorithm or a bad hex.
absl::StatusOr<std::string> DigestHex(absl::string_view what, const std::string& digest) {
  if (!absl::StartsWith(digest, "sha256:") || !IsHex64(digest.substr(7))) {
    return Malformed(what, absl::StrCat("unsupported digest \"", digest, "\""));
  }
  return digest.substr(7);
}

absl::StatusOr<std::string> ReadSmall(int dir_fd, const std::string& path) {
  QUILT_ASSIGN_OR_RETURN(UniqueFd fd, OpenBeneath(dir_fd, path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(absl::StrCat("stat ", path));
  if (!S_ISREG(st.st_mode)) return Malformed(path, "not a regular file");
  if (st.st_size > kMaxMetadataBytes) return Malformed(path, "too large for image metadata");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(absl::StrCat("read ", path));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

absl::StatusOr<Json> ParseJson(absl::string_view what, const std::string& text) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Malformed(what, "not valid JSON");
  return json;
}

absl::StatusOr<Json> ReadJson(int dir_fd, const std::string& path) {
  QUILT_ASSIGN_OR_RETURN(std::string text, ReadSmall(dir_fd, path));
  return ParseJson(path, text);
}

// Reads the blob `digest` of an OCI layout and checks its bytes against the digest.
absl::StatusOr<Json> ReadJsonBlob(int dir_fd, const std::string& digest) {
  QUILT_ASSIGN_OR_RETURN(std::string hex, DigestHex("blob", digest));
  const std::string path = absl::StrCat("blobs/sha256/", hex);
  QUILT_ASSIGN_OR_RETURN(std::string text, ReadSmall(dir_fd, path));
  if (Sha256Hex(text) != hex) return Malformed(path, "content does not match its digest");
  return ParseJson(path, text);
}

// Reads a JSON value of type T; a missing key gives `fallback`.
template <typename T>
absl::StatusOr<T> Field(absl::string_view what, const Json& object, const char* key,
                        T fallback = T()) {
  if (!object.is_object()) return Malformed(what, "not a JSON object");
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const Json::exception& e) {
    return Malformed(what, absl::StrCat("\"", key, "\": ", e.what()));
  }
}

absl::StatusOr<ImageConfig> ParseConfig(absl::string_view what, const Json& config_file) {
  const Json empty = Json::object();
  const auto it = config_file.is_object() ? config_file.find("config") : config_file.end();
  const Json& c = (it == config_file.end() || it->is_null()) ? empty : *it;
  ImageConfig config;
  QUILT_ASSIGN_OR_RETURN(config.entrypoint, Field<std::vector<std::string>>(what, c, "Entrypoint"));
  QUILT_ASSIGN_OR_RETURN(config.cmd, Field<std::vector<std::string>>(what, c, "Cmd"));
  QUILT_ASSIGN_OR_RETURN(config.env, Field<std::vector<std::string>>(what, c, "Env"));
  QUILT_ASSIGN_OR_RETURN(config.working_dir, Field<std::string>(what, c, "WorkingDir"));
  QUILT_ASSIGN_OR_RETURN(config.user, Field<std::string>(what, c, "User"));
  return config;
}

std::string HostArchitecture() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  const absl::string_view machine = u.machine;
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  return std::string(machine);
}

// An index entry is a candidate unless it names another platform than this host's.
bool ForThisHost(const Json& descriptor) {
  const auto it = descriptor.find("platform");
  if (it == descriptor.end() || !it->is_object()) return true;
  return it->value("os", "linux") == "linux" &&
         it->value("architecture", HostArchitecture()) == HostArchitecture();
}

bool TagMatches(absl::string_view name, absl::string_view tag) {
  return name == tag || absl::EndsWith(name, absl::StrCat(":", tag));
}

// Picks one image manifest descriptor from an index (following nested indexes).
absl::StatusOr<Json> PickManifest(int dir_fd, const Json& index, const std::string& tag,
                                  int depth) {
  QUILT_ASSIGN_OR_RETURN(Json manifests, Field<Json>("index", index, "manifests", Json::array()));
  if (!manifests.is_array()) return Malformed("index", "\"manifests\" is not an array");
  std::vector<Json> candidates;
  for (const Json& d : manifests) {
    if (!d.is_object() || !ForThisHost(d)) continue;
    const std::string ref = d.contains("annotations") && d["annotations"].is_object()
                                ? d["annotations"].value(kRefNameAnnotation, "")
                                : "";
    // A tag names an entry of the top-level index; nested indexes are per-platform lists.
    if (depth == 0 && !tag.empty() && !TagMatches(ref, tag)) continue;
    candidates.push_back(d);
  }
  if (candidates.empty()) {
    if (!tag.empty()) return absl::NotFoundError(absl::StrCat("no image tagged \"", tag, "\""));
    return Malformed("index", "no image for this platform");
  }
  if (candidates.size() > 1) {
    return Malformed("index", absl::StrCat("holds ", candidates.size(),
                                           " images; choose one with a tag (PATH:TAG)"));
  }
  const std::string media_type = candidates[0].value("mediaType", "");
  if (media_type != kIndexMediaType && media_type != kDockerListMediaType) return candidates[0];
  if (depth + 1 >= kMaxIndexDepth) return Malformed("index", "indexes nested too deep");
  QUILT_ASSIGN_OR_RETURN(Json nested,
                         ReadJsonBlob(dir_fd, candidates[0].value("digest", std::string())));
  return PickManifest(dir_fd, nested, "", depth + 1);
}

absl::StatusOr<ImageManifest> ReadOciLayout(int dir_fd, const std::string& tag) {
  QUILT_ASSIGN_OR_RETURN(Json index, ReadJson(dir_fd, "index.json"));
  QUILT_ASSIGN_OR_RETURN(Json descriptor, PickManifest(dir_fd, index, tag, 0));
  QUILT_ASSIGN_OR_RETURN(std::string manifest_digest,
                         Field<std::string>("manifest descriptor", descriptor, "digest"));
  QUILT_ASSIGN_OR_RETURN(Json manifest, ReadJsonBlob(dir_fd, manifest_digest));
  ImageManifest image;
  QUILT_ASSIGN_OR_RETURN(image.id_hex, DigestHex("manifest", manifest_digest));
  QUILT_ASSIGN_OR_RETURN(Json config_descriptor, Field<Json>("manifest", manifest, "config"));
  QUILT_ASSIGN_OR_RETURN(Json config_file,
                         ReadJsonBlob(dir_fd, config_descriptor.is_object()
                                                  ? config_descriptor.value("digest", std::string())
                                                  : ""));
  QUILT_ASSIGN_OR_RETURN(image.config, ParseConfig("image config", config_file));
  QUILT_ASSIGN_OR_RETURN(Json layers, Field<Json>("manifest", manifest, "layers", Json::array()));
  if (!layers.is_array()) return Malformed("manifest", "\"layers\" is not an array");
  for (const Json& layer : layers) {
    QUILT_ASSIGN_OR_RETURN(std::string digest, Field<std::string>("layer", layer, "digest"));
    QUILT_ASSIGN_OR_RETURN(std::string hex, DigestHex("layer", digest));
    image.layers.push_back({absl::StrCat("blobs/sha256/", hex), hex});
  }
  return image;
}

absl::StatusOr<Json> PickDockerImage(const Json& manifest, const std::string& tag) {
  if (!manifest.is_array()) return Malformed("manifest.json", "not a JSON array");
  std::vector<Json> candidates;
  for (const Json& entry : manifest) {
    QUILT_ASSIGN_OR_RETURN(auto tags,
                           Field<std::vector<std::string>>("manifest.json", entry, "RepoTags"));
    if (tag.empty() || std::any_of(tags.begin(), tags.end(),
                                   [&](const std::string& t) { return TagMatches(t, tag); })) {
      candidates.push_back(entry);
    }
  }
  if (candidates.empty()) {
    if (!tag.empty()) return absl::NotFoundError(absl::StrCat("no image tagged \"", tag, "\""));
    return Malformed("manifest.json", "holds no image");
  }
  if (candidates.size() > 1) {
    return Malformed("manifest.json", absl::StrCat("holds ", candidates.size(),
                                                   " images; choose one with a tag (PATH:TAG)"));
  }
  return candidates[0];
}

absl::StatusOr<ImageManifest> ReadDockerSave(int dir_fd, const std::string& tag) {
  QUILT_ASSIGN_OR_RETURN(Json manifest, ReadJson(dir_fd, "manifest.json"));
  QUILT_ASSIGN_OR_RETURN(Json entry, PickDockerImage(manifest, tag));
  QUILT_ASSIGN_OR_RETURN(std::string config_path,
                         Field<std::string>("manifest.json", entry, "Config"));
  QUILT_ASSIGN_OR_RETURN(std::string config_text, ReadSmall(dir_fd, config_path));
  QUILT_ASSIGN_OR_RETURN(Json config_file, ParseJson(config_path, config_text));
  ImageManifest image;
  image.id_hex = Sha256Hex(config_text);
  QUILT_ASSIGN_OR_RETURN(image.config, ParseConfig(config_path, config_file));
  QUILT_ASSIGN_OR_RETURN(auto layers,
                         Field<std::vector<std::string>>("manifest.json", entry, "Layers"));
  QUILT_ASSIGN_OR_RETURN(Json rootfs, Field<Json>(config_path, config_file, "rootfs"));
  QUILT_ASSIGN_OR_RETURN(auto diff_ids,
                         Field<std::vector<std::string>>(config_path, rootfs, "diff_ids"));
  if (diff_ids.size() != layers.size()) {
    return Malformed(config_path, absl::StrCat(diff_ids.size(), " diff_ids for ", layers.size(),
                                               " layers in manifest.json"));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    QUILT_ASSIGN_OR_RETURN(std::string hex, DigestHex("diff_id", diff_ids[i]));
    image.layers.push_back({layers[i], hex});
  }
  return image;
}

bool HasFile(int dir_fd, const char* name) {
  struct stat st;
  return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

absl::StatusOr<UniqueFd> OpenBeneath(int dir_fd, const std::string& path) {
  struct open_how how = {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how));
  if (fd < 0) {
    if (errno == EXDEV || errno == ELOOP) {
      return Malformed(path, "path leaves the image directory");
    }
    return ErrnoStatus(absl::StrCat("open ", path));
  }
  return UniqueFd(static_cast<int>(fd));
}

bool IsImageLayout(int dir_fd) {
  return HasFile(dir_fd, "oci-layout") || HasFile(dir_fd, "manifest.json");
}

absl::StatusOr<ImageManifest> ReadImageLayout(int dir_fd, const std::string& tag) {
  if (HasFile(dir_fd, "oci-layout")) return ReadOciLayout(dir_fd, tag);
  if (HasFile(dir_fd, "manifest.json")) return ReadDockerSave(dir_fd, tag);
  return absl::InvalidArgumentError("not an image layout: no oci-layout or manifest.json");
}

}  // namespace quilt
