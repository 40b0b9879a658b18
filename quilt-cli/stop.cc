// quilt-cli stop REF [-t SECONDS] [-s SIGNAL]: signals the workload, then SIGKILLs it.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"
#include "quilt-cli/parse.h"

namespace quilt::cli {
namespace {

struct StopOptions {
  std::string ref;
  std::optional<int> timeout_seconds;
  std::string signal;
};

int RunStop(const GlobalOptions& global, const StopOptions& options) {
  quilt::v1::StopRequest request;
  request.set_ref(options.ref);
  if (options.timeout_seconds.has_value()) {
    if (*options.timeout_seconds < 0) {
      return ReportError(absl::InvalidArgumentError("invalid timeout: negative"));
    }
    request.set_timeout_seconds(*options.timeout_seconds);
  }
  if (!options.signal.empty()) {
    absl::StatusOr<int> signal = ParseSignal(options.signal);
    if (!signal.ok()) return ReportError(signal.status());
    request.set_signal(*signal);
  }
  Client client(global.socket);
  absl::StatusOr<quilt::v1::StopResponse> response = client.Stop(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, ProtoToJson(response->container()));
  } else {
    std::cout << options.ref << '\n';
  }
  return 0;
}

}  // namespace

void AddStopCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("stop", "Stop a container (signal, grace period, kill)");
  auto options = std::make_shared<StopOptions>();
  command->add_option("ref", options->ref, "Container id, id prefix or name")->required();
  command->add_option("-t,--time", options->timeout_seconds,
                      "Seconds to wait before SIGKILL (default 10)");
  command->add_option("-s,--signal", options->signal, "First signal (default TERM)");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunStop(global, *options); });
}

}  // namespace quilt::cli
