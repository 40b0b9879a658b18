#include "quiltd/monitor/capabilities.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace quilt {
namespace {

// Indexed by capability number, as in <linux/capability.h> (up to CAP_CHECKPOINT_RESTORE).
constexpr const char* kNames[] = {"CHOWN",
                                  "DAC_OVERRIDE",
                                  "DAC_READ_SEARCH",
                                  "FOWNER",
                                  "FSETID",
                                  "KILL",
                                  "SETGID",
                                  "SETUID",
                                  "SETPCAP",
                                  "LINUX_IMMUTABLE",
                                  "NET_BIND_SERVICE",
                                  "NET_BROADCAST",
                                  "NET_ADMIN",
                                  "NET_RAW",
                                  "IPC_LOCK",
                                  "IPC_OWNER",
                                  "SYS_MODULE",
                                  "SYS_RAWIO",
                                  "SYS_CHROOT",
                                  "SYS_PTRACE",
                                  "SYS_PACCT",
                                  "SYS_ADMIN",
                                  "SYS_BOOT",
                                  "SYS_NICE",
                                  "SYS_RESOURCE",
                                  "SYS_TIME",
                                  "SYS_TTY_CONFIG",
                                  "MKNOD",
                                  "LEASE",
                                  "AUDIT_WRITE",
                                  "AUDIT_CONTROL",
                                  "SETFCAP",
                                  "MAC_OVERRIDE",
                                  "MAC_ADMIN",
                                  "SYSLOG",
                                  "WAKE_ALARM",
                                  "BLOCK_SUSPEND",
                                  "AUDIT_READ",
                                  "PERFMON",
                                  "BPF",
                                  "CHECKPOINT_RESTORE"};
constexpr int kNameCount = sizeof(kNames) / sizeof(kNames[0]);
constexpr uint64_t kAll = (uint64_t{1} << kNameCount) - 1;

bool IsAll(absl::string_view name) { return absl::EqualsIgnoreCase(name, "ALL"); }

// The mask of `names`; "ALL" sets `*all` instead of adding bits.
absl::StatusOr<uint64_t> MaskOf(const std::vector<std::string>& names, absl::string_view field,
                                bool* all) {
  uint64_t mask = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (IsAll(names[i])) {
      *all = true;
      continue;
    }
    const int number = CapabilityNumber(names[i]);
    if (number < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "]: unknown capability \"", names[i], "\""));
    }
    mask |= uint64_t{1} << number;
  }
  return mask;
}

}  // namespace

int CapabilityNumber(absl::string_view name) {
  std::string upper = absl::AsciiStrToUpper(name);
  absl::string_view bare = upper;
  absl::ConsumePrefix(&bare, "CAP_");
  for (int i = 0; i < kNameCount; ++i) {
    if (bare == kNames[i]) return i;
  }
  return -1;
}

std::string CapabilityName(int number) {
  if (number >= 0 && number < kNameCount) return absl::StrCat("CAP_", kNames[number]);
  return absl::StrCat("CAP_", number);
}

std::vector<std::string> CapabilityNames(uint64_t mask) {
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) {
    if (mask & (uint64_t{1} << i)) names.push_back(CapabilityName(i));
  }
  return names;
}

absl::StatusOr<uint64_t> ResolveCapabilities(const std::vector<std::string>& add,
                                             const std::vector<std::string>& drop) {
  bool add_all = false;
  bool drop_all = false;
  absl::StatusOr<uint64_t> dropped = MaskOf(drop, "spec.cap_drop", &drop_all);
  if (!dropped.ok()) return dropped.status();
  absl::StatusOr<uint64_t> added = MaskOf(add, "spec.cap_add", &add_all);
  if (!added.ok()) return added.status();
  // As with Docker: "add ALL" starts from every capability and the drops still apply;
  // "drop ALL" leaves only what is added by name.
  uint64_t base = add_all ? kAll : kDefaultCapabilities;
  if (drop_all) base = 0;
  return (base & ~*dropped) | *added;
}

}  // namespace quilt
