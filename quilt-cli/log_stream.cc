#include "quilt-cli/log_stream.h"

#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

// Whether the next byte of each stream starts a line (for timestamps).
struct LineState {
  bool stdout_at_start = true;
  bool stderr_at_start = true;
};

absl::Status WriteEntry(const quilt::v1::LogEntry& entry, const LogOutputOptions& options,
                        LineState* lines) {
  if (options.json) {
    return WriteAll(STDOUT_FILENO, absl::StrCat(ProtoToJson(entry).dump(), "\n"));
  }
  bool is_stderr = entry.stream() == quilt::v1::LOG_STREAM_STDERR;
  int fd = is_stderr ? STDERR_FILENO : STDOUT_FILENO;
  if (!options.timestamps) return WriteAll(fd, entry.data());
  bool* at_start = is_stderr ? &lines->stderr_at_start : &lines->stdout_at_start;
  std::string prefix = absl::StrCat(FormatTimestamp(entry.time()), " ");
  return WriteAll(fd, PrefixLines(entry.data(), prefix, at_start));
}

}  // namespace

absl::Status CopyLogs(Client& client, grpc::ClientContext* context,
                      const quilt::v1::LogsRequest& request, const LogOutputOptions& options) {
  std::unique_ptr<grpc::ClientReader<quilt::v1::LogsResponse>> reader =
      client.Logs(context, request);
  LineState lines;
  quilt::v1::LogsResponse response;
  while (reader->Read(&response)) {
    for (const quilt::v1::LogEntry& entry : response.entries()) {
      QUILT_RETURN_IF_ERROR(WriteEntry(entry, options, &lines));
    }
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::CANCELLED) {
    return absl::CancelledError("log stream cancelled");
  }
  if (!status.ok()) return client.FailureStatus(status);
  return absl::OkStatus();
}

}  // namespace quilt::cli
