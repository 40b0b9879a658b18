// A small leveled logger for quiltd (Debian's Abseil has no absl/log). Lines go to stderr as
// "2026-11-22T10:00:00.123Z INFO file.cc:42] message". Never use it between clone and exec.
#pragma once

#include <sstream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace quilt {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the lowest level that is written. Default kInfo.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Parses "debug", "info", "warning" or "error".
absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name);

// Collects one line and writes it in one write(2) on destruction.
class LogLine {
 public:
  LogLine(LogLevel level, const char* file, int line);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace quilt

#define QUILT_LOG_LEVEL_DEBUG ::quilt::LogLevel::kDebug
#define QUILT_LOG_LEVEL_INFO ::quilt::LogLevel::kInfo
#define QUILT_LOG_LEVEL_WARNING ::quilt::LogLevel::kWarning
#define QUILT_LOG_LEVEL_ERROR ::quilt::LogLevel::kError

// QUILT_LOG(INFO) << "started " << id;   (a single statement: safe under an unbraced if)
#define QUILT_LOG(level)                                                                      \
  for (bool quilt_log_on_ = QUILT_LOG_LEVEL_##level >= ::quilt::GetLogLevel(); quilt_log_on_; \
       quilt_log_on_ = false)                                                                 \
  ::quilt::LogLine(QUILT_LOG_LEVEL_##level, __FILE__, __LINE__)
