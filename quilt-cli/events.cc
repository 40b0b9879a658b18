// quilt-cli events [--since-seq N] [--container REF] [--type T]... [--no-follow]: lifecycle
// events, one per line, live until interrupted (like `docker events`).
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/event_format.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

struct EventsOptions {
  std::optional<int64_t> since_seq;
  std::string container;
  std::vector<std::string> types;
  bool no_follow = false;
};

absl::StatusOr<quilt::v1::EventsRequest> BuildRequest(const EventsOptions& options) {
  quilt::v1::EventsRequest request;
  if (options.since_seq.has_value()) {
    if (*options.since_seq < 0) {
      return absl::InvalidArgumentError("--since-seq: must not be negative");
    }
    request.set_since_seq(*options.since_seq);
  }
  request.set_container(options.container);
  for (const std::string& name : options.types) {
    absl::StatusOr<quilt::v1::EventType> type = ParseEventType(name);
    if (!type.ok()) return type.status();
    request.add_types(*type);
  }
  if (options.no_follow) {
    // Without since_seq there is no history to print: "no follow" means all kept events.
    if (!request.has_since_seq()) request.set_since_seq(0);
    request.set_replay_only(true);
  }
  return request;
}

int RunEvents(const GlobalOptions& global, const EventsOptions& options) {
  absl::StatusOr<quilt::v1::EventsRequest> request = BuildRequest(options);
  if (!request.ok()) return ReportError(request.status());
  Client client(global.socket);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<quilt::v1::Event>> reader = client.Events(&context, *request);
  quilt::v1::Event event;
  while (reader->Read(&event)) {
    if (global.json) {
      // One compact object per line, so a consumer can parse the stream as it comes.
      std::cout << ProtoToJson(event).dump() << std::endl;
    } else {
      std::cout << FormatEvent(event) << std::endl;
    }
  }
  grpc::Status status = reader->Finish();
  return status.ok() ? 0 : ReportError(client.FailureStatus(status));
}

}  // namespace

void AddEventsCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("events", "Print lifecycle events as they happen");
  auto options = std::make_shared<EventsOptions>();
  command->add_option("--since-seq", options->since_seq,
                      "First print the recorded events after this seq (0: all kept)");
  command->add_option("--container", options->container,
                      "Only this container's events (id, id prefix or name)");
  command->add_option("--type", options->types,
                      "Only these types (repeatable): created, started, start-failed, exited, "
                      "oom, stopped, killed, removed, image-imported, image-removed");
  command->add_flag("--no-follow", options->no_follow,
                    "Print the recorded events and exit instead of waiting for new ones");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunEvents(global, *options); });
}

}  // namespace quilt::cli
