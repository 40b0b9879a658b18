#include "quiltd/service/request_validation.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/resource_limits.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"
#include "common/validation.h"
#include "quiltd/image/oci_image.h"
#include "quiltd/monitor/capabilities.h"
#include "quiltd/runtime/userns_range.h"

namespace quilt {
namespace {

constexpr size_t kMaxArg = 64 * 1024;
constexpr int kMaxArgs = 4096;
constexpr int kMaxSetup = 256;
constexpr int kMaxMounts = 128;
constexpr int64_t kMinMemory = 4 * 1024 * 1024;
constexpr int64_t kMaxStopSeconds = 24 * 3600;
constexpr int64_t kMaxExecSeconds = 30 * 24 * 3600;
// Capability names, the seccomp profile and the userns text are echoed in errors: bounded
// and checked first.
constexpr size_t kMaxKeyword = 64;
// google.protobuf.Timestamp's range: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// A log file must hold at least two of the largest records (16 + 64 KiB).
constexpr int64_t kMinLogBytes = 128 * 1024;
constexpr int64_t kMaxLogBytes = int64_t{1} << 40;
constexpr int kMaxLogFiles = 64;
// /dev/shm and tmpfs mounts.
constexpr int64_t kMinTmpfsBytes = 4096;
constexpr int64_t kMaxTmpfsBytes = int64_t{1} << 40;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

std::string Indexed(absl::string_view field, int i) { return absl::StrCat(field, "[", i, "]"); }

using Strings = google::protobuf::RepeatedPtrField<std::string>;

absl::Status ValidateCommand(absl::string_view name, const Strings& command) {
  if (command.empty()) return Invalid(name, "must not be empty");
  if (command.size() > kMaxArgs) return Invalid(name, "too many arguments");
  if (command[0].empty()) return Invalid(Indexed(name, 0), "must not be empty");
  for (int i = 0; i < command.size(); ++i) {
    QUILT_RETURN_IF_ERROR(ValidateText(Indexed(name, i), command[i], kMaxArg));
  }
  return absl::OkStatus();
}

absl::Status ValidateEnv(absl::string_view name, const Strings& env) {
  if (env.size() > kMaxArgs) return Invalid(name, "too many entries");
  for (int i = 0; i < env.size(); ++i) {
    const std::string field = Indexed(name, i);
    QUILT_RETURN_IF_ERROR(ValidateText(field, env[i], kMaxArg));
    const size_t eq = env[i].find('=');
    if (eq == std::string::npos || eq == 0) return Invalid(field, "want KEY=VALUE");
  }
  return absl::OkStatus();
}

absl::Status ValidateHostname(const std::string& hostname) {
  if (hostname.empty()) return absl::OkStatus();
  if (hostname.size() > 64) return Invalid("spec.hostname", "longer than 64 characters");
  if (hostname[0] == '-' || hostname[0] == '.') {
    return Invalid("spec.hostname", "must start with a letter or digit");
  }
  for (char c : hostname) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return Invalid("spec.hostname", "may hold only letters, digits, '-' and '.'");
  }
  return absl::OkStatus();
}

absl::Status ValidateResources(const v1::Resources& r) {
  if (r.memory_bytes() < 0 || (r.memory_bytes() > 0 && r.memory_bytes() < kMinMemory)) {
    return Invalid("spec.resources.memory_bytes",
                   absl::StrCat("must be 0 (no limit) or at least ", kMinMemory, " (4 MiB), got ",
                                r.memory_bytes()));
  }
  const double cpus = r.cpus();
  const unsigned host_cpus = std::thread::hardware_concurrency();
  if (!std::isfinite(cpus) || cpus < 0 || (cpus > 0 && cpus < 0.01) ||
      (host_cpus > 0 && cpus > host_cpus)) {
    return Invalid("spec.resources.cpus",
                   absl::StrCat("must be 0 (no limit) or between 0.01 and ", host_cpus,
                                " (this host's CPUs), got ", cpus));
  }
  if (r.pids_max() < -1 || r.pids_max() > (1 << 22)) {
    return Invalid("spec.resources.pids_max",
                   absl::StrCat("must be -1 (no limit), 0 (the default, 4096) or up to 4194304, "
                                "got ",
                                r.pids_max()));
  }
  return absl::OkStatus();
}

absl::Status ValidateSecurity(const v1::ContainerSpec& spec) {
  constexpr int kMaxCapabilityNames = 64;
  if (spec.cap_add_size() > kMaxCapabilityNames) return Invalid("spec.cap_add", "too many entries");
  if (spec.cap_drop_size() > kMaxCapabilityNames) {
    return Invalid("spec.cap_drop", "too many entries");
  }
  for (int i = 0; i < spec.cap_add_size(); ++i) {
    QUILT_RETURN_IF_ERROR(ValidateText(Indexed("spec.cap_add", i), spec.cap_add(i), kMaxKeyword));
  }
  for (int i = 0; i < spec.cap_drop_size(); ++i) {
    QUILT_RETURN_IF_ERROR(ValidateText(Indexed("spec.cap_drop", i), spec.cap_drop(i), kMaxKeyword));
  }
  QUILT_RETURN_IF_ERROR(ResolveCapabilities({spec.cap_add().begin(), spec.cap_add().end()},
                                            {spec.cap_drop().begin(), spec.cap_drop().end()})
                            .status());
  const std::string& seccomp = spec.seccomp();
  QUILT_RETURN_IF_ERROR(ValidateText("spec.seccomp", seccomp, kMaxKeyword));
  if (!seccomp.empty() && seccomp != "default" && seccomp != "unconfined") {
    return Invalid("spec.seccomp",
                   absl::StrCat("want \"default\" or \"unconfined\", got \"", seccomp, "\""));
  }
  QUILT_RETURN_IF_ERROR(ValidateText("spec.userns", spec.userns(), kMaxKeyword));
  QUILT_RETURN_IF_ERROR(ParseUserns(spec.userns()).status());
  return absl::OkStatus();
}

// The size of /dev/shm or of a tmpfs mount: 0 for the default.
absl::Status ValidateTmpfsSize(absl::string_view field, int64_t bytes) {
  if (bytes != 0 && (bytes < kMinTmpfsBytes || bytes > kMaxTmpfsBytes)) {
    return Invalid(field, absl::StrCat("must be 0 (default) or between ", kMinTmpfsBytes, " and ",
                                       kMaxTmpfsBytes, ", got ", bytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateMounts(const v1::ContainerSpec& spec) {
  if (spec.mounts_size() > kMaxMounts) return Invalid("spec.mounts", "too many mounts");
  for (int i = 0; i < spec.mounts_size(); ++i) {
    const std::string field = Indexed("spec.mounts", i);
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath(field + ".source", spec.mounts(i).source()));
    QUILT_RETURN_IF_ERROR(
        ValidateAbsolutePath(field + ".destination", spec.mounts(i).destination()));
    if (spec.mounts(i).destination() == "/") {
      return Invalid(field + ".destination", "cannot mount over the container's root");
    }
  }
  if (spec.tmpfs_size() > kMaxMounts) return Invalid("spec.tmpfs", "too many mounts");
  absl::flat_hash_set<std::string> binds;
  for (const v1::Mount& mount : spec.mounts()) binds.insert(mount.destination());
  absl::flat_hash_set<std::string> tmpfs;
  for (int i = 0; i < spec.tmpfs_size(); ++i) {
    const v1::TmpfsMount& mount = spec.tmpfs(i);
    const std::string field = Indexed("spec.tmpfs", i);
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath(field + ".destination", mount.destination()));
    if (mount.destination() == "/") {
      return Invalid(field + ".destination", "cannot mount over the container's root");
    }
    if (binds.contains(mount.destination()) || !tmpfs.insert(mount.destination()).second) {
      return Invalid(field + ".destination",
                     absl::StrCat(mount.destination(), " is the destination of another mount"));
    }
    QUILT_RETURN_IF_ERROR(ValidateTmpfsSize(field + ".size_bytes", mount.size_bytes()));
    if (mount.mode() > 07777) {
      return Invalid(field + ".mode", "must be permission bits, at most 07777");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLogLimits(const v1::ContainerSpec& spec) {
  const int64_t bytes = spec.log_max_bytes();
  if (bytes != 0 && (bytes < kMinLogBytes || bytes > kMaxLogBytes)) {
    return Invalid("spec.log_max_bytes",
                   absl::StrCat("must be 0 (default) or between ", kMinLogBytes, " and ",
                                kMaxLogBytes, ", got ", bytes));
  }
  if (spec.log_max_files() < 0 || spec.log_max_files() > kMaxLogFiles) {
    return Invalid("spec.log_max_files",
                   absl::StrCat("must be between 0 (default) and ", kMaxLogFiles, ", got ",
                                spec.log_max_files()));
  }
  return absl::OkStatus();
}

// Unknown and repeated names are refused, so the loop ends by the 17th entry however many
// the request holds.
absl::Status ValidateUlimits(const v1::ContainerSpec& spec) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < spec.ulimits_size(); ++i) {
    const v1::Ulimit& limit = spec.ulimits(i);
    const std::string field = Indexed("spec.ulimits", i);
    QUILT_RETURN_IF_ERROR(ValidateText(field + ".name", limit.name(), kMaxKeyword));
    if (!ResourceLimitByName(limit.name()).has_value()) {
      return Invalid(field + ".name",
                     absl::StrCat("unknown limit \"", limit.name(), "\" (want one of ",
                                  absl::StrJoin(ResourceLimitNames(), ", "), ")"));
    }
    if (!seen.insert(limit.name()).second) {
      return Invalid(field + ".name", absl::StrCat("\"", limit.name(), "\" is set twice"));
    }
    if (limit.soft() < -1 || limit.hard() < -1) {
      return Invalid(field, "limits must be -1 (unlimited) or more");
    }
    if (RlimFromApi(limit.soft()) > RlimFromApi(limit.hard())) {
      return Invalid(field, absl::StrCat("soft limit ", limit.soft(), " is above the hard limit ",
                                         limit.hard()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSpec(const v1::ContainerSpec& spec) {
  if (!spec.name().empty()) QUILT_RETURN_IF_ERROR(ValidateName("spec.name", spec.name()));
  QUILT_RETURN_IF_ERROR(ValidateText("spec.image", spec.image(), 4096));
  if (!spec.image().empty() && spec.image()[0] == '/') {
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("spec.image", spec.image()));
  }
  // Either may be empty: the image's config fills them (the runtime refuses an empty argv).
  if (!spec.command().empty()) {
    QUILT_RETURN_IF_ERROR(ValidateCommand("spec.command", spec.command()));
  }
  if (!spec.entrypoint().empty()) {
    QUILT_RETURN_IF_ERROR(ValidateCommand("spec.entrypoint", spec.entrypoint()));
  }
  QUILT_RETURN_IF_ERROR(ValidateEnv("spec.env", spec.env()));
  if (!spec.working_dir().empty()) {
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("spec.working_dir", spec.working_dir()));
  }
  QUILT_RETURN_IF_ERROR(ValidateText("spec.user", spec.user(), 256));
  QUILT_RETURN_IF_ERROR(ValidateHostname(spec.hostname()));
  if (spec.setup_size() > kMaxSetup) return Invalid("spec.setup", "too many setup commands");
  for (int i = 0; i < spec.setup_size(); ++i) {
    QUILT_RETURN_IF_ERROR(ValidateText(Indexed("spec.setup", i), spec.setup(i), kMaxArg));
    if (spec.setup(i).empty()) return Invalid(Indexed("spec.setup", i), "must not be empty");
  }
  QUILT_RETURN_IF_ERROR(ValidateResources(spec.resources()));
  QUILT_RETURN_IF_ERROR(ValidateMounts(spec));
  QUILT_RETURN_IF_ERROR(ValidateSecurity(spec));
  QUILT_RETURN_IF_ERROR(ValidateLogLimits(spec));
  QUILT_RETURN_IF_ERROR(ValidateUlimits(spec));
  QUILT_RETURN_IF_ERROR(ValidateTmpfsSize("spec.shm_size_bytes", spec.shm_size_bytes()));
  if (!v1::NetworkMode_IsValid(spec.network())) {
    return Invalid("spec.network", absl::StrCat("unknown mode ", spec.network()));
  }
  return absl::OkStatus();
}

absl::Status ValidateRef(const std::string& ref) {
  if (ref.empty()) return Invalid("ref", "must not be empty");
  return ValidateText("ref", ref, 256);
}

absl::Status ValidateSignal(int signal) {
  if (signal < 0 || signal > 64) {
    return Invalid("signal", absl::StrCat("must be between 1 and 64, got ", signal));
  }
  return absl::OkStatus();
}

absl::Status ValidateImportRequest(const v1::ImportRequest& request) {
  QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("path", request.path()));
  if (!request.name().empty()) QUILT_RETURN_IF_ERROR(ValidateName("name", request.name()));
  if (!request.tag().empty()) QUILT_RETURN_IF_ERROR(ValidateText("tag", request.tag(), 256));
  return absl::OkStatus();
}

absl::Status CheckImportFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("path: no such file: ", path));
    }
    return ErrnoStatus(err, "path: stat");
  }
  if (S_ISDIR(st.st_mode)) {
    UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir && IsImageLayout(dir.get())) return absl::OkStatus();
    return Invalid("path", "a directory but not an image layout (no oci-layout or manifest.json)");
  }
  if (!S_ISREG(st.st_mode)) return Invalid("path", "not a regular file or a directory");
  if (st.st_size == 0) return Invalid("path", "empty file");
  return absl::OkStatus();
}

absl::Status ValidateListRequest(const v1::ListRequest& request) {
  if (!v1::ContainerState_IsValid(request.state())) {
    return Invalid("state", absl::StrCat("unknown state ", request.state()));
  }
  return ValidateText("name_contains", request.name_contains(), 128);
}

absl::Status ValidateLogsRequest(const v1::LogsRequest& request) {
  QUILT_RETURN_IF_ERROR(ValidateRef(request.ref()));
  if (request.has_tail() && request.tail() < 0) {
    return Invalid("tail", "must not be negative (leave it unset for all)");
  }
  if (request.has_since()) {
    const google::protobuf::Timestamp& since = request.since();
    if (since.seconds() < kMinTimestampSeconds || since.seconds() > kMaxTimestampSeconds ||
        since.nanos() < 0 || since.nanos() > 999'999'999) {
      return Invalid("since", "not a valid timestamp");
    }
  }
  if (!v1::LogStream_IsValid(request.stream())) {
    return Invalid("stream", absl::StrCat("unknown stream ", request.stream()));
  }
  return absl::OkStatus();
}

absl::Status ValidateStopRequest(const v1::StopRequest& request) {
  QUILT_RETURN_IF_ERROR(ValidateRef(request.ref()));
  QUILT_RETURN_IF_ERROR(ValidateSignal(request.signal()));
  if (request.has_timeout_seconds() &&
      (request.timeout_seconds() < 0 || request.timeout_seconds() > kMaxStopSeconds)) {
    return Invalid("timeout_seconds", absl::StrCat("must be between 0 and ", kMaxStopSeconds,
                                                   ", got ", request.timeout_seconds()));
  }
  return absl::OkStatus();
}

absl::Status ValidateTerminalSize(absl::string_view field, const v1::TerminalSize& size) {
  constexpr uint32_t kMaxCells = 65535;  // struct winsize holds unsigned shorts
  if (size.rows() > kMaxCells) {
    return Invalid(absl::StrCat(field, ".rows"), absl::StrCat("at most 65535, got ", size.rows()));
  }
  if (size.columns() > kMaxCells) {
    return Invalid(absl::StrCat(field, ".columns"),
                   absl::StrCat("at most 65535, got ", size.columns()));
  }
  return absl::OkStatus();
}

absl::Status ValidateEventsRequest(const v1::EventsRequest& request) {
  if (request.has_since_seq() && request.since_seq() < 0) {
    return Invalid("since_seq", absl::StrCat("must not be negative, got ", request.since_seq()));
  }
  if (!request.container().empty()) {
    QUILT_RETURN_IF_ERROR(ValidateText("container", request.container(), 256));
  }
  for (int i = 0; i < request.types_size(); ++i) {
    const int type = request.types(i);
    if (type == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(type)) {
      return Invalid(Indexed("types", i), absl::StrCat("unknown event type ", type));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateExecStart(const v1::ExecStart& start) {
  QUILT_RETURN_IF_ERROR(ValidateRef(start.ref()));
  QUILT_RETURN_IF_ERROR(ValidateCommand("start.command", start.command()));
  QUILT_RETURN_IF_ERROR(ValidateEnv("start.env", start.env()));
  if (!start.working_dir().empty()) {
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("start.working_dir", start.working_dir()));
  }
  QUILT_RETURN_IF_ERROR(ValidateText("start.user", start.user(), 256));
  if (start.timeout_seconds() < 0 || start.timeout_seconds() > kMaxExecSeconds) {
    return Invalid("start.timeout_seconds",
                   absl::StrCat("must be between 0 (none) and ", kMaxExecSeconds, ", got ",
                                start.timeout_seconds()));
  }
  if (start.has_terminal_size() && !start.tty()) {
    return Invalid("start.terminal_size", "needs start.tty");
  }
  return ValidateTerminalSize("start.terminal_size", start.terminal_size());
}

namespace {

// A path in a container for a copy: like ValidateAbsolutePath, except that "." components
// are allowed ("/dir/." means a directory's contents, as for docker cp).
absl::Status ValidateCopyPath(const std::string& path) {
  QUILT_RETURN_IF_ERROR(ValidateText("path", path, 4095));
  if (path.empty() || path.front() != '/') return Invalid("path", "must be absolute");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return Invalid("path", "must not have a \"..\" component");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateCopyToRequest(const v1::CopyToRequest& request) {
  QUILT_RETURN_IF_ERROR(ValidateRef(request.ref()));
  QUILT_RETURN_IF_ERROR(ValidateCopyPath(request.path()));
  const std::string& name = request.source_name();
  if (name.empty()) return absl::OkStatus();
  QUILT_RETURN_IF_ERROR(ValidateText("source_name", name, 255));
  if (name == ".." || absl::StrContains(name, '/')) {
    return Invalid("source_name", absl::StrCat("must be one path component, got \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateCopyFromRequest(const v1::CopyFromRequest& request) {
  QUILT_RETURN_IF_ERROR(ValidateRef(request.ref()));
  return ValidateCopyPath(request.path());
}

}  // namespace quilt
