#include "quiltd/cgroup/cgroup_parse.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace quilt {
namespace {

// mountinfo escapes space, tab, newline and backslash in paths as a backslash and three octal
// digits (see show_mountinfo/mangle in fs/proc_namespace.c).
std::string DecodeMountinfoPath(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        field[i + 2] >= '0' && field[i + 2] <= '7' && field[i + 3] >= '0' && field[i + 3] <= '7') {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

absl::StatusOr<CgroupMountInfo> ParseMountinfoLine(absl::string_view line, bool* is_cgroup) {
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  // id parent major:minor root mount-point options [optional...] - fstype source super-options
  size_t dash = 6;
  while (dash < fields.size() && fields[dash] != "-") ++dash;
  if (dash + 2 >= fields.size()) {
    return absl::InvalidArgumentError(absl::StrCat("parse mountinfo line: \"", line, "\""));
  }
  CgroupMountInfo mount;
  absl::string_view fstype = fields[dash + 1];
  *is_cgroup = fstype == "cgroup" || fstype == "cgroup2";
  mount.v2 = fstype == "cgroup2";
  mount.root = DecodeMountinfoPath(fields[3]);
  mount.mount_point = DecodeMountinfoPath(fields[4]);
  if (dash + 3 < fields.size()) {
    mount.super_options = absl::StrSplit(fields[dash + 3], ',', absl::SkipEmpty());
  }
  return mount;
}

}  // namespace

absl::StatusOr<std::vector<ProcCgroupEntry>> ParseProcCgroup(absl::string_view text) {
  std::vector<ProcCgroupEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // The path may itself contain ':', so split into at most three parts.
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    ProcCgroupEntry entry;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &entry.hierarchy_id) || parts[2].empty() ||
        parts[2][0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("parse /proc/self/cgroup line: \"", line, "\""));
    }
    entry.controllers = absl::StrSplit(parts[1], ',', absl::SkipEmpty());
    entry.path = std::string(parts[2]);
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<CgroupMountInfo>> ParseMountinfo(absl::string_view text) {
  std::vector<CgroupMountInfo> mounts;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    bool is_cgroup = false;
    absl::StatusOr<CgroupMountInfo> mount = ParseMountinfoLine(line, &is_cgroup);
    if (!mount.ok()) return mount.status();
    if (is_cgroup) mounts.push_back(*std::move(mount));
  }
  return mounts;
}

std::optional<int64_t> FindKeyedValue(absl::string_view text, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    int64_t value = 0;
    if (kv.first == key && absl::SimpleAtoi(kv.second, &value)) return value;
  }
  return std::nullopt;
}

absl::StatusOr<int64_t> ParseCgroupInt(absl::string_view text) {
  absl::string_view value = absl::StripAsciiWhitespace(text);
  if (value == "max") return 0;
  int64_t number = 0;
  if (!absl::SimpleAtoi(value, &number)) {
    return absl::InvalidArgumentError(absl::StrCat("parse cgroup value: \"", value, "\""));
  }
  return number;
}

absl::StatusOr<std::vector<int>> ParsePidList(absl::string_view text) {
  std::vector<int> pids;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    int pid = 0;
    if (!absl::SimpleAtoi(line, &pid) || pid <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("parse cgroup.procs: \"", line, "\""));
    }
    pids.push_back(pid);
  }
  return pids;
}

std::vector<std::string> ParseControllerList(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

}  // namespace quilt
