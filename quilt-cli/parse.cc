#include "quilt-cli/parse.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/resource_limits.h"

namespace quilt::cli {
namespace {

absl::Status Invalid(absl::string_view what, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("invalid ", what, " \"", text, "\": ", why));
}

// Splits "64m" into the number "64" and the unit "m".
std::pair<absl::string_view, absl::string_view> SplitUnit(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && (absl::ascii_isdigit(text[i]) || text[i] == '.')) ++i;
  return {text.substr(0, i), text.substr(i)};
}

absl::StatusOr<int64_t> UnitMultiplier(absl::string_view unit) {
  std::string lower = absl::AsciiStrToLower(unit);
  if (lower.empty() || lower == "b") return 1;
  static constexpr std::pair<char, int> kShifts[] = {{'k', 10}, {'m', 20}, {'g', 30}, {'t', 40}};
  for (const auto& [letter, shift] : kShifts) {
    if (lower[0] != letter) continue;
    absl::string_view rest = absl::string_view(lower).substr(1);
    if (rest.empty() || rest == "b" || rest == "ib") return int64_t{1} << shift;
  }
  return absl::InvalidArgumentError("unknown unit");
}

struct SignalName {
  const char* name;
  int number;
};

constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

// "1700000000" or "1700000000.25", exactly (a double would round the nanoseconds).
std::optional<absl::Time> ParseUnixSeconds(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits('.', 1));
  int64_t seconds = 0;
  if (parts.first.empty() || parts.first[0] == '-' || !absl::SimpleAtoi(parts.first, &seconds)) {
    return std::nullopt;
  }
  absl::string_view fraction = parts.second;
  if (fraction.size() > 9) return std::nullopt;
  std::string digits(fraction);
  digits.resize(9, '0');
  int64_t nanos = 0;
  bool all_digits = std::all_of(fraction.begin(), fraction.end(), absl::ascii_isdigit);
  if (!all_digits || !absl::SimpleAtoi(digits, &nanos)) return std::nullopt;
  return absl::FromUnixSeconds(seconds) + absl::Nanoseconds(nanos);
}

// The kernel's highest signal number (SIGRTMAX is a glibc function, not a constant).
constexpr int kMaxSignal = 64;

}  // namespace

absl::StatusOr<int64_t> ParseSize(absl::string_view text) {
  auto [number, unit] = SplitUnit(absl::StripAsciiWhitespace(text));
  if (number.empty())
    return Invalid("size", text, "want a number with an optional unit k, m, g, t");
  absl::StatusOr<int64_t> multiplier = UnitMultiplier(unit);
  if (!multiplier.ok()) return Invalid("size", text, "unknown unit (want k, m, g or t)");
  if (number.find('.') == absl::string_view::npos) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(number, &value)) return Invalid("size", text, "not a number");
    if (value > std::numeric_limits<int64_t>::max() / *multiplier) {
      return Invalid("size", text, "too large");
    }
    return value * *multiplier;
  }
  double value = 0;
  if (!absl::SimpleAtod(number, &value)) return Invalid("size", text, "not a number");
  double bytes = value * static_cast<double>(*multiplier);
  // 2^63 is the first double past int64's range.
  if (!(bytes < 9223372036854775808.0)) return Invalid("size", text, "too large");
  return static_cast<int64_t>(bytes);
}

absl::StatusOr<int> ParseSignal(absl::string_view text) {
  int number = 0;
  if (absl::SimpleAtoi(text, &number)) {
    if (number < 1 || number > kMaxSignal) {
      return Invalid("signal", text, absl::StrCat("number out of range 1..", kMaxSignal));
    }
    return number;
  }
  std::string upper = absl::AsciiStrToUpper(text);
  absl::string_view name = upper;
  absl::ConsumePrefix(&name, "SIG");
  for (const SignalName& signal : kSignals) {
    if (name == signal.name) return signal.number;
  }
  return Invalid("signal", text, "unknown signal name");
}

absl::StatusOr<double> ParseCpus(absl::string_view text) {
  double cpus = 0;
  if (!absl::SimpleAtod(text, &cpus) || !std::isfinite(cpus)) {
    return Invalid("cpus", text, "not a number");
  }
  if (cpus <= 0) return Invalid("cpus", text, "must be greater than 0");
  return cpus;
}

absl::StatusOr<quilt::v1::Mount> ParseVolume(absl::string_view text, absl::string_view cwd) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  if (parts.size() < 2 || parts.size() > 3) return Invalid("volume", text, "want SRC:DST[:ro|rw]");
  if (parts[0].empty()) return Invalid("volume", text, "empty source");
  if (parts[1].empty() || parts[1][0] != '/') {
    return Invalid("volume", text, "destination must be an absolute path");
  }
  quilt::v1::Mount mount;
  if (parts.size() == 3) {
    if (parts[2] == "ro") {
      mount.set_read_only(true);
    } else if (parts[2] != "rw") {
      return Invalid("volume", text, "mode must be ro or rw");
    }
  }
  mount.set_source(AbsolutePath(parts[0], cwd));
  mount.set_destination(std::string(parts[1]));
  return mount;
}

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

absl::StatusOr<std::optional<std::string>> ParseEnv(absl::string_view text,
                                                    const EnvLookup& lookup) {
  size_t eq = text.find('=');
  if (eq == 0 || text.empty()) return Invalid("env", text, "empty variable name");
  if (eq != absl::string_view::npos) return std::optional<std::string>(std::string(text));
  std::optional<std::string> value = lookup(std::string(text));
  if (!value.has_value()) return std::optional<std::string>();
  return std::optional<std::string>(absl::StrCat(text, "=", *value));
}

std::string AbsolutePath(absl::string_view path, absl::string_view cwd) {
  std::filesystem::path result(std::string{path});
  if (result.is_relative()) result = std::filesystem::path(std::string{cwd}) / result;
  std::string normal = result.lexically_normal().string();
  // lexically_normal keeps a trailing separator ("/a/b/"); the daemon wants "/a/b".
  if (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string ImageRef(absl::string_view image, absl::string_view cwd) {
  static constexpr absl::string_view kTarballSuffixes[] = {".tar",    ".tgz",     ".tar.gz",
                                                           ".tar.xz", ".tar.zst", ".tar.bz2"};
  bool is_path = image.find('/') != absl::string_view::npos;
  for (absl::string_view suffix : kTarballSuffixes) is_path |= absl::EndsWith(image, suffix);
  return is_path ? AbsolutePath(image, cwd) : std::string(image);
}

namespace {

std::optional<int64_t> ParseLimitValue(absl::string_view text) {
  if (text == "unlimited" || text == "-1") return -1;
  int64_t value = 0;
  if (text.empty() || !absl::ascii_isdigit(text[0]) || !absl::SimpleAtoi(text, &value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

absl::StatusOr<quilt::v1::Ulimit> ParseUlimit(absl::string_view text) {
  const size_t equals = text.find('=');
  if (equals == absl::string_view::npos) return Invalid("ulimit", text, "want NAME=SOFT[:HARD]");
  const absl::string_view name = text.substr(0, equals);
  if (!ResourceLimitByName(std::string_view(name.data(), name.size())).has_value()) {
    return Invalid("ulimit", text,
                   absl::StrCat("unknown limit (want one of ",
                                absl::StrJoin(ResourceLimitNames(), ", "), ")"));
  }
  const std::vector<absl::string_view> values =
      absl::StrSplit(text.substr(equals + 1), absl::MaxSplits(':', 1));
  const std::optional<int64_t> soft = ParseLimitValue(values[0]);
  const std::optional<int64_t> hard = values.size() > 1 ? ParseLimitValue(values[1]) : soft;
  if (!soft.has_value() || !hard.has_value()) {
    return Invalid("ulimit", text, "limits are numbers, -1 or unlimited");
  }
  quilt::v1::Ulimit ulimit;
  ulimit.set_name(std::string(name));
  ulimit.set_soft(*soft);
  ulimit.set_hard(*hard);
  return ulimit;
}

absl::StatusOr<quilt::v1::TmpfsMount> ParseTmpfs(absl::string_view text) {
  const size_t colon = text.find(':');
  quilt::v1::TmpfsMount tmpfs;
  tmpfs.set_destination(std::string(text.substr(0, colon)));
  if (tmpfs.destination().empty() || tmpfs.destination()[0] != '/') {
    return Invalid("tmpfs", text, "want an absolute PATH[:OPTIONS]");
  }
  if (colon == absl::string_view::npos) return tmpfs;
  for (absl::string_view option : absl::StrSplit(text.substr(colon + 1), ',')) {
    uint32_t mode = 0;
    if (absl::ConsumePrefix(&option, "size=")) {
      absl::StatusOr<int64_t> size = ParseSize(option);
      if (!size.ok()) return Invalid("tmpfs", text, size.status().message());
      tmpfs.set_size_bytes(*size);
    } else if (absl::ConsumePrefix(&option, "mode=")) {
      const char* end = option.data() + option.size();
      if (option.empty() || option.size() > 4 ||
          std::from_chars(option.data(), end, mode, 8).ptr != end) {
        return Invalid("tmpfs", text, "mode is 1 to 4 octal digits");
      }
      tmpfs.set_mode(mode);
    } else if (option == "exec" || option == "noexec") {
      tmpfs.set_exec(option == "exec");
    } else if (option != "rw" && option != "nosuid" && option != "nodev") {
      return Invalid("tmpfs", text,
                     absl::StrCat("unknown option \"", option,
                                  "\" (want size=, mode=, exec, noexec, rw, nosuid, nodev)"));
    }
  }
  return tmpfs;
}

absl::StatusOr<quilt::v1::NetworkMode> ParseNetwork(absl::string_view text) {
  if (text == "none") return quilt::v1::NETWORK_MODE_NONE;
  if (text == "host") return quilt::v1::NETWORK_MODE_HOST;
  return Invalid("network", text, "want none or host");
}

absl::StatusOr<absl::Time> ParseSince(absl::string_view text, absl::Time now) {
  absl::Duration ago;
  if (absl::ParseDuration(text, &ago)) {
    if (ago < absl::ZeroDuration()) return Invalid("time", text, "negative duration");
    return now - ago;
  }
  if (std::optional<absl::Time> unix_time = ParseUnixSeconds(text)) return *unix_time;
  absl::Time time;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) return time;
  return Invalid("time", text, "want a duration (10m, 1h30m), an RFC 3339 time or Unix seconds");
}

}  // namespace quilt::cli
