// quilt-cli rm REF... [-f]: removes containers, reporting each failure.
// quilt-cli prune: removes every container that is not running, as docker container prune.
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

// Removes each of `refs`, printing each one removed (JSON: its id). A failure is reported and
// makes the exit code 1, but the others are still removed. With `skip_busy`, a container
// that runs (or is gone) by the time it is removed is skipped silently.
int RemoveEach(const GlobalOptions& global, Client& client, const std::vector<std::string>& refs,
               bool force, bool skip_busy) {
  nlohmann::json removed = nlohmann::json::array();
  int exit_code = 0;
  for (const std::string& ref : refs) {
    quilt::v1::RemoveRequest request;
    request.set_ref(ref);
    request.set_force(force);
    absl::StatusOr<quilt::v1::RemoveResponse> response = client.Remove(request);
    if (skip_busy &&
        (absl::IsFailedPrecondition(response.status()) || absl::IsNotFound(response.status()))) {
      continue;
    }
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

int RunPrune(const GlobalOptions& global) {
  Client client(global.socket);
  quilt::v1::ListRequest request;
  request.set_all(true);
  absl::StatusOr<quilt::v1::ListResponse> listed = client.List(request);
  if (!listed.ok()) return ReportError(listed.status());
  std::vector<std::string> stopped;
  for (const quilt::v1::Container& container : listed->containers()) {
    if (container.state() != quilt::v1::CONTAINER_STATE_RUNNING) stopped.push_back(container.id());
  }
  // Never forced: one started since the list stays.
  return RemoveEach(global, client, stopped, /*force=*/false, /*skip_busy=*/true);
}

}  // namespace

void AddRmCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("rm", "Remove containers");
  auto options = std::make_shared<RmOptions>();
  command->add_option("refs", options->refs, "Container ids, id prefixes or names")->required();
  command->add_flag("-f,--force", options->force, "Kill running containers first");
  OnRun(command, invocation, [options](const GlobalOptions& global) {
    Client client(global.socket);
    return RemoveEach(global, client, options->refs, options->force, /*skip_busy=*/false);
  });
  CLI::App* prune = app.add_subcommand(
      "prune", "Remove every container that is not running (created, exited, failed)");
  OnRun(prune, invocation, [](const GlobalOptions& global) { return RunPrune(global); });
}

}  // namespace quilt::cli
