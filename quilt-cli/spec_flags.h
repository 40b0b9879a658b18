// The container spec flags shared by `create` and `run`, and their translation to a
// ContainerSpec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "quilt-cli/parse.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// The raw flag values, as typed.
struct SpecFlags {
  std::string name;
  std::string image;
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  std::string hostname;
  std::vector<std::string> setup;
  std::string memory;
  std::string cpus;
  int64_t pids = 0;
  std::vector<std::string> volumes;
  std::string network;
  bool read_only = false;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  std::string seccomp;
  bool interactive = false;  // -i: spec.stdin_open
  bool tty = false;          // -t: spec.tty
  std::string userns;
  std::string log_max_size;
  int log_max_files = 0;
  std::vector<std::string> ulimits;
  std::string shm_size;
  std::vector<std::string> tmpfs;
  std::string entrypoint;
  // The positional words (all words after "--"): the workload's argv, verbatim.
  std::vector<std::string> command;
};

// Adds the spec flags and the trailing command to `command`, bound to `flags`.
void AddSpecFlags(CLI::App* command, SpecFlags* flags);

// Builds the spec: sizes, cpus, volumes, env and network parsed; relative volume sources and
// tarball paths made absolute against `cwd`; "-e KEY" entries resolved with `env`. Fails with
// INVALID_ARGUMENT naming the flag.
absl::StatusOr<quilt::v1::ContainerSpec> BuildSpec(const SpecFlags& flags, absl::string_view cwd,
                                                   const EnvLookup& env);

}  // namespace quilt::cli
