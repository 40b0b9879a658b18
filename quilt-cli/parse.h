// Parsers for the values users type on the quilt-cli command line. Pure functions, no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt::cli {

// Parses a byte count: a number with an optional binary unit, case-insensitive: "1048576",
// "512k", "64m", "1g", "2t", "1.5g", also "64mb"/"64mib"/"100b". Fails with INVALID_ARGUMENT
// on anything else, a negative value or one that does not fit in an int64.
absl::StatusOr<int64_t> ParseSize(absl::string_view text);

// Parses a signal: a name with or without "SIG", any case ("TERM", "SIGKILL", "hup"), or a
// number 1..64. Returns the signal number; INVALID_ARGUMENT otherwise.
absl::StatusOr<int> ParseSignal(absl::string_view text);

// Parses a number of CPUs: a positive finite decimal such as "0.5" or "2".
absl::StatusOr<double> ParseCpus(absl::string_view text);

// Parses "SRC:DST[:ro|rw]" into a mount. A relative SRC is made absolute against `cwd`
// (lexically, without following symlinks); DST must be absolute.
absl::StatusOr<quilt::v1::Mount> ParseVolume(absl::string_view text, absl::string_view cwd);

// Looks up a variable in the CLI's own environment; nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment, for ParseEnv.
std::optional<std::string> ProcessEnv(const std::string& name);

// Parses an -e entry: "KEY=VALUE" is kept as is; "KEY" alone takes the value `lookup` gives
// ("KEY=value"), and yields nullopt when the variable is unset (the entry is dropped, like
// docker). Fails when KEY is empty or holds '='.
absl::StatusOr<std::optional<std::string>> ParseEnv(absl::string_view text,
                                                    const EnvLookup& lookup);

// `path` made absolute against `cwd`, lexically (no symlinks followed, no trailing '/').
std::string AbsolutePath(absl::string_view path, absl::string_view cwd);

// The --image value to send: a name or digest as is, a tarball path made absolute. A value is
// a path when it holds a '/' or ends in .tar, .tgz, .tar.gz, .tar.xz, .tar.zst or .tar.bz2
// (names and digests can hold neither).
std::string ImageRef(absl::string_view image, absl::string_view cwd);

// Parses --ulimit "NAME=SOFT[:HARD]" (Docker's form): NAME as in ContainerSpec.ulimits
// ("nofile", "nproc", ...), each value a number, -1 or "unlimited"; HARD defaults to SOFT.
absl::StatusOr<quilt::v1::Ulimit> ParseUlimit(absl::string_view text);

// Parses --tmpfs "PATH[:OPTIONS]" (Docker's form): OPTIONS comma-separated among size=SIZE,
// mode=OCTAL, exec, noexec, and rw, nosuid, nodev (which always hold).
absl::StatusOr<quilt::v1::TmpfsMount> ParseTmpfs(absl::string_view text);

// Parses --network: "none" or "host".
absl::StatusOr<quilt::v1::NetworkMode> ParseNetwork(absl::string_view text);

// Parses a --since value relative to `now`: a duration ago ("10m", "1h30m", "45s"), an
// RFC 3339 time ("2026-11-22T10:00:00Z", fractions and offsets allowed) or Unix seconds
// ("1700000000", fractions allowed).
absl::StatusOr<absl::Time> ParseSince(absl::string_view text, absl::Time now);

}  // namespace quilt::cli
