// quilt-cli start REF: starts a created container.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

int RunStart(const GlobalOptions& global, const std::string& ref) {
  Client client(global.socket);
  quilt::v1::StartRequest request;
  request.set_ref(ref);
  absl::StatusOr<quilt::v1::StartResponse> response = client.Start(request);
  if (!response.ok()) return ReportError(response.status());
  if (response->container().state() == quilt::v1::CONTAINER_STATE_FAILED) {
    return ReportError(absl::FailedPreconditionError(
        absl::StrCat("start ", ref, ": ", response->container().reason(), ": ",
                     response->container().message())));
  }
  if (global.json) {
    PrintJson(std::cout, ProtoToJson(response->container()));
  } else {
    std::cout << ref << '\n';
  }
  return 0;
}

}  // namespace

void AddStartCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("start", "Start a created container");
  auto ref = std::make_shared<std::string>();
  command->add_option("ref", *ref, "Container id, id prefix or name")->required();
  OnRun(command, invocation, [ref](const GlobalOptions& global) { return RunStart(global, *ref); });
}

}  // namespace quilt::cli
