#include "quiltd/service/request_validation.h"

#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "quiltd/monitor/capabilities.h"

namespace quilt {
namespace {

constexpr size_t kMaxArg = 64 * 1024;
constexpr int kMaxArgs = 4096;
constexpr int kMaxSetup = 256;
constexpr int kMaxMounts = 128;
constexpr int64_t kMinMemory = 4 * 1024 * 1024;
constexpr int64_t kMaxStopSeconds = 24 * 3600;

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
  QUILT_RETURN_IF_ERROR(ResolveCapabilities({spec.cap_add().begin(), spec.cap_add().end()},
                                            {spec.cap_drop().begin(), spec.cap_drop().end()})
                            .status());
  const std::string& seccomp = spec.seccomp();
  if (!seccomp.empty() && seccomp != "default" && seccomp != "unconfined") {
    return Invalid("spec.seccomp",
                   absl::StrCat("want \"default\" or \"unconfined\", got \"", seccomp, "\""));
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
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSpec(const v1::ContainerSpec& spec) {
  if (!spec.name().empty()) QUILT_RETURN_IF_ERROR(ValidateName("spec.name", spec.name()));
  QUILT_RETURN_IF_ERROR(ValidateText("spec.image", spec.image(), 4096));
  if (!spec.image().empty() && spec.image()[0] == '/') {
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("spec.image", spec.image()));
  }
  QUILT_RETURN_IF_ERROR(ValidateCommand("spec.command", spec.command()));
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

absl::Status ValidateExecStart(const v1::ExecStart& start) {
  QUILT_RETURN_IF_ERROR(ValidateRef(start.ref()));
  QUILT_RETURN_IF_ERROR(ValidateCommand("start.command", start.command()));
  QUILT_RETURN_IF_ERROR(ValidateEnv("start.env", start.env()));
  if (!start.working_dir().empty()) {
    QUILT_RETURN_IF_ERROR(ValidateAbsolutePath("start.working_dir", start.working_dir()));
  }
  QUILT_RETURN_IF_ERROR(ValidateText("start.user", start.user(), 256));
  if (start.timeout_seconds() < 0) {
    return Invalid("start.timeout_seconds",
                   absl::StrCat("must not be negative, got ", start.timeout_seconds()));
  }
  if (start.has_terminal_size() && !start.tty()) {
    return Invalid("start.terminal_size", "needs start.tty");
  }
  return ValidateTerminalSize("start.terminal_size", start.terminal_size());
}

}  // namespace quilt
