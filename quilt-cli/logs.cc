// quilt-cli logs REF [-f] [--tail N] [--since T] [-t] [--stdout-only|--stderr-only]: a
// container's output, raw, each stream to its own fd.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/log_stream.h"
#include "quilt-cli/parse.h"

namespace quilt::cli {
namespace {

struct LogsOptions {
  std::string ref;
  bool follow = false;
  std::optional<int64_t> tail;
  std::string since;
  bool timestamps = false;
  bool stdout_only = false;
  bool stderr_only = false;
  bool no_setup = false;
};

absl::StatusOr<quilt::v1::LogsRequest> BuildRequest(const LogsOptions& options) {
  quilt::v1::LogsRequest request;
  request.set_ref(options.ref);
  request.set_follow(options.follow);
  // quiltd rejects a negative tail (the proto's "all"): all is sent as the unset 0.
  if (options.tail.has_value()) {
    if (*options.tail < 0) return absl::InvalidArgumentError("invalid tail: negative");
    request.set_tail(*options.tail);
  }
  request.set_exclude_setup(options.no_setup);
  if (options.stdout_only) request.set_stream(quilt::v1::LOG_STREAM_STDOUT);
  if (options.stderr_only) request.set_stream(quilt::v1::LOG_STREAM_STDERR);
  if (!options.since.empty()) {
    absl::StatusOr<absl::Time> since = ParseSince(options.since, absl::Now());
    if (!since.ok()) return since.status();
    *request.mutable_since() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(*since));
  }
  return request;
}

int RunLogs(const GlobalOptions& global, const LogsOptions& options) {
  absl::StatusOr<quilt::v1::LogsRequest> request = BuildRequest(options);
  if (!request.ok()) return ReportError(request.status());
  Client client(global.socket);
  grpc::ClientContext context;
  // A finished history arrives at once; only a followed stream may take any time.
  if (!options.follow) {
    context.set_deadline(std::chrono::system_clock::now() +
                         absl::ToChronoNanoseconds(kDiskDeadline));
  }
  absl::Status status = CopyLogs(client, &context, *request, {options.timestamps, global.json});
  return status.ok() ? 0 : ReportError(status);
}

}  // namespace

void AddLogsCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("logs", "Print a container's output");
  auto options = std::make_shared<LogsOptions>();
  command->add_option("ref", options->ref, "Container id, id prefix or name")->required();
  command->add_flag("-f,--follow", options->follow, "Keep printing new output until it exits");
  command->add_option("--tail", options->tail, "Only the last N lines (default all)");
  command->add_option("--since", options->since,
                      "Only output since a time: 10m, 1h30m, RFC 3339 or Unix seconds");
  command->add_flag("-t,--timestamps", options->timestamps, "Prefix lines with their time");
  CLI::Option* stdout_only =
      command->add_flag("--stdout-only", options->stdout_only, "Only standard output");
  CLI::Option* stderr_only =
      command->add_flag("--stderr-only", options->stderr_only, "Only standard error");
  stdout_only->excludes(stderr_only);
  command->add_flag("--no-setup", options->no_setup, "Leave out the setup commands' output");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunLogs(global, *options); });
}

}  // namespace quilt::cli
