// quilt-cli kill REF [-s SIGNAL]: sends one signal to the workload.
#include <iostream>
#include <memory>
#include <string>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"
#include "quilt-cli/parse.h"

namespace quilt::cli {
namespace {

struct KillOptions {
  std::string ref;
  std::string signal = "KILL";
};

int RunKill(const GlobalOptions& global, const KillOptions& options) {
  absl::StatusOr<int> signal = ParseSignal(options.signal);
  if (!signal.ok()) return ReportError(signal.status());
  quilt::v1::KillRequest request;
  request.set_ref(options.ref);
  request.set_signal(*signal);
  Client client(global.socket);
  absl::StatusOr<quilt::v1::KillResponse> response = client.Kill(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, {{"ref", options.ref}, {"signal", *signal}});
  } else {
    std::cout << options.ref << '\n';
  }
  return 0;
}

}  // namespace

void AddKillCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("kill", "Send a signal to a container's workload");
  auto options = std::make_shared<KillOptions>();
  command->add_option("ref", options->ref, "Container id, id prefix or name")->required();
  command->add_option("-s,--signal", options->signal, "Signal name or number")
      ->capture_default_str();
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunKill(global, *options); });
}

}  // namespace quilt::cli
