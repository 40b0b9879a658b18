// quilt-cli rm REF... [-f]: removes containers, reporting each failure.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

struct RmOptions {
  std::vector<std::string> refs;
  bool force = false;
};

int RunRm(const GlobalOptions& global, const RmOptions& options) {
  Client client(global.socket);
  nlohmann::json removed = nlohmann::json::array();
  int exit_code = 0;
  for (const std::string& ref : options.refs) {
    quilt::v1::RemoveRequest request;
    request.set_ref(ref);
    request.set_force(options.force);
    absl::StatusOr<quilt::v1::RemoveResponse> response = client.Remove(request);
    if (!response.ok()) {
      exit_code = ReportError(response.status());
      continue;
    }
    if (global.json) {
      removed.push_back({{"id", response->id()}});
    } else {
      std::cout << ref << std::endl;
    }
  }
  if (global.json) PrintJson(std::cout, removed);
  return exit_code;
}

}  // namespace

void AddRmCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("rm", "Remove containers");
  auto options = std::make_shared<RmOptions>();
  command->add_option("refs", options->refs, "Container ids, id prefixes or names")->required();
  command->add_flag("-f,--force", options->force, "Kill running containers first");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunRm(global, *options); });
}

}  // namespace quilt::cli
