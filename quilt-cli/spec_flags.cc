#include "quilt-cli/spec_flags.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace quilt::cli {
namespace {

absl::Status SetResources(const SpecFlags& flags, quilt::v1::Resources* resources) {
  if (!flags.memory.empty()) {
    QUILT_ASSIGN_OR_RETURN(int64_t memory, ParseSize(flags.memory));
    resources->set_memory_bytes(memory);
  }
  if (!flags.cpus.empty()) {
    QUILT_ASSIGN_OR_RETURN(double cpus, ParseCpus(flags.cpus));
    resources->set_cpus(cpus);
  }
  if (flags.pids < -1) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid pids ", flags.pids, ": want -1 (no limit), 0 (default) or more"));
  }
  resources->set_pids_max(flags.pids);
  return absl::OkStatus();
}

absl::Status SetLogLimits(const SpecFlags& flags, quilt::v1::ContainerSpec* spec) {
  if (!flags.log_max_size.empty()) {
    absl::StatusOr<int64_t> bytes = ParseSize(flags.log_max_size);
    if (!bytes.ok()) return Annotate(bytes.status(), "--log-max-size");
    spec->set_log_max_bytes(*bytes);
  }
  if (flags.log_max_files < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--log-max-files: must not be negative, got ", flags.log_max_files));
  }
  spec->set_log_max_files(flags.log_max_files);
  return absl::OkStatus();
}

}  // namespace

void AddSpecFlags(CLI::App* command, SpecFlags* flags) {
  command->add_option("--name", flags->name, "Name of the container");
  command->add_option("--image", flags->image,
                      "Image name, digest or tarball path (default: the default image)");
  command->add_option("-e,--env", flags->env, "Environment KEY=VALUE, or KEY to pass ours")
      ->allow_extra_args(false);
  command->add_option("-w,--workdir", flags->workdir, "Working directory inside the container");
  command->add_option("-u,--user", flags->user, "uid[:gid] or name[:group]");
  command->add_option("--hostname", flags->hostname, "Hostname inside the container");
  command->add_option("--setup", flags->setup, "Shell command run before the workload (repeat)")
      ->allow_extra_args(false);
  command->add_option("--memory", flags->memory, "Memory limit (e.g. 64m, 1g)");
  command->add_option("--cpus", flags->cpus, "CPU limit in CPUs (e.g. 0.5)");
  command->add_option("--pids", flags->pids,
                      "Maximum number of processes (0: default 4096, -1: no limit)");
  command->add_option("-v,--volume", flags->volumes, "Bind mount SRC:DST[:ro|rw] (repeat)")
      ->allow_extra_args(false);
  command->add_option("--network", flags->network, "Network: none or host");
  command->add_flag("--read-only", flags->read_only, "Mount the rootfs read-only");
  command->add_flag("-i,--interactive", flags->interactive,
                    "Keep the workload's stdin open (run: pass ours to it)");
  command->add_flag("-t,--tty", flags->tty, "Run the workload on a terminal in the container");
  command->add_option("--cap-add", flags->cap_add, "Add a capability, e.g. NET_RAW, or ALL")
      ->allow_extra_args(false);
  command->add_option("--cap-drop", flags->cap_drop, "Drop a capability, e.g. CHOWN, or ALL")
      ->allow_extra_args(false);
  command->add_option("--seccomp", flags->seccomp,
                      "System call filter: default, or unconfined for none");
  command->add_option("--entrypoint", flags->entrypoint,
                      "Executable to run instead of the image's Entrypoint (drops its Cmd)");
  command->add_option("--userns", flags->userns,
                      "User namespace: host (none), auto, or HOST_UID:COUNT");
  command->add_option("--log-max-size", flags->log_max_size,
                      "Rotate the log at this size (e.g. 10m; default 64m)");
  command->add_option("--log-max-files", flags->log_max_files,
                      "Log files kept, the current one included (default 3)");
  command
      ->add_option("--ulimit", flags->ulimits,
                   "Resource limit NAME=SOFT[:HARD], e.g. nofile=4096:8192 (repeat)")
      ->allow_extra_args(false);
  command->add_option("--shm-size", flags->shm_size, "Size of /dev/shm (e.g. 256m; default 64m)");
  command
      ->add_option("--tmpfs", flags->tmpfs,
                   "tmpfs mount PATH[:size=64m,mode=1777,exec] in memory (repeat)")
      ->allow_extra_args(false);
  // After "--" CLI11 hands every word to this positional untouched, flags included.
  command->add_option("command", flags->command, "Command and arguments (after --)");
}

absl::StatusOr<quilt::v1::ContainerSpec> BuildSpec(const SpecFlags& flags, absl::string_view cwd,
                                                   const EnvLookup& env) {
  quilt::v1::ContainerSpec spec;
  spec.set_name(flags.name);
  if (!flags.image.empty()) spec.set_image(ImageRef(flags.image, cwd));
  if (!flags.entrypoint.empty()) spec.add_entrypoint(flags.entrypoint);
  spec.mutable_command()->Add(flags.command.begin(), flags.command.end());
  for (const std::string& entry : flags.env) {
    QUILT_ASSIGN_OR_RETURN(std::optional<std::string> parsed, ParseEnv(entry, env));
    if (parsed.has_value()) spec.add_env(*std::move(parsed));
  }
  spec.set_working_dir(flags.workdir);
  spec.set_user(flags.user);
  spec.set_hostname(flags.hostname);
  spec.mutable_setup()->Add(flags.setup.begin(), flags.setup.end());
  QUILT_RETURN_IF_ERROR(SetResources(flags, spec.mutable_resources()));
  for (const std::string& volume : flags.volumes) {
    QUILT_ASSIGN_OR_RETURN(*spec.add_mounts(), ParseVolume(volume, cwd));
  }
  for (const std::string& tmpfs : flags.tmpfs) {
    QUILT_ASSIGN_OR_RETURN(*spec.add_tmpfs(), ParseTmpfs(tmpfs));
  }
  if (!flags.network.empty()) {
    QUILT_ASSIGN_OR_RETURN(quilt::v1::NetworkMode network, ParseNetwork(flags.network));
    spec.set_network(network);
  }
  spec.set_read_only_rootfs(flags.read_only);
  spec.mutable_cap_add()->Add(flags.cap_add.begin(), flags.cap_add.end());
  spec.mutable_cap_drop()->Add(flags.cap_drop.begin(), flags.cap_drop.end());
  spec.set_seccomp(flags.seccomp);
  spec.set_stdin_open(flags.interactive);
  spec.set_tty(flags.tty);
  spec.set_userns(flags.userns);
  QUILT_RETURN_IF_ERROR(SetLogLimits(flags, &spec));
  if (!flags.shm_size.empty()) {
    absl::StatusOr<int64_t> bytes = ParseSize(flags.shm_size);
    if (!bytes.ok()) return Annotate(bytes.status(), "--shm-size");
    spec.set_shm_size_bytes(*bytes);
  }
  for (const std::string& ulimit : flags.ulimits) {
    QUILT_ASSIGN_OR_RETURN(*spec.add_ulimits(), ParseUlimit(ulimit));
  }
  return spec;
}

}  // namespace quilt::cli
