// The default seccomp profile of every container, compiled to its BPF program by quiltd once
// per variant instead of by every container's init (libseccomp took ~0.5 ms of CPU per start,
// on its critical path). The monitor loads the program from config.json as it is.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace quilt {

class SeccompPrograms {
 public:
  // Compiles both variants of the profile: with and without the ptrace family. Fails when
  // libseccomp refuses, or when quiltd's own capabilities cannot be read.
  static absl::StatusOr<SeccompPrograms> Compile();

  // The program (raw struct sock_filter array) for a container granted `capabilities` (bit n
  // is capability n): ptrace, process_vm_readv/writev and kcmp stay allowed only when it
  // keeps CAP_SYS_PTRACE, which it can only if quiltd holds it (its monitor's init runs with
  // quiltd's permitted set).
  const std::string& For(uint64_t capabilities) const;

 private:
  SeccompPrograms() = default;

  uint64_t permitted_ = 0;  // quiltd's permitted capabilities
  std::string confined_;    // everything refused
  std::string tracing_;     // the ptrace family allowed
};

}  // namespace quilt
