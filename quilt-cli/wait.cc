// quilt-cli wait REF: blocks until the container stops, prints its exit code.
#include <iostream>
#include <memory>
#include <string>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

int RunWait(const GlobalOptions& global, const std::string& ref) {
  Client client(global.socket);
  quilt::v1::WaitRequest request;
  request.set_ref(ref);
  absl::StatusOr<quilt::v1::WaitResponse> response = client.Wait(request);
  if (!response.ok()) return ReportError(response.status());
  const quilt::v1::Container& container = response->container();
  if (global.json) {
    PrintJson(std::cout, {{"id", container.id()},
                          {"state", StateName(container.state())},
                          {"exit_code", container.exit_code()}});
  } else {
    std::cout << container.exit_code() << '\n';
  }
  return 0;
}

}  // namespace

void AddWaitCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command =
      app.add_subcommand("wait", "Wait for a container to stop; print its exit code");
  auto ref = std::make_shared<std::string>();
  command->add_option("ref", *ref, "Container id, id prefix or name")->required();
  OnRun(command, invocation, [ref](const GlobalOptions& global) { return RunWait(global, *ref); });
}

}  // namespace quilt::cli
