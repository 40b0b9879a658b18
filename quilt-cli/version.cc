// quilt-cli version: the client's version and the daemon's, with its host facts.
#include <iostream>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

// QUILT_VERSION comes from the build (PROJECT_VERSION).
constexpr char kClientVersion[] = QUILT_VERSION;

int RunVersion(const GlobalOptions& global) {
  Client client(global.socket);
  absl::StatusOr<quilt::v1::VersionResponse> server = client.Version();
  if (global.json) {
    nlohmann::json json = {{"client", {{"version", kClientVersion}}}};
    if (server.ok()) json["server"] = ProtoToJson(*server);
    PrintJson(std::cout, json);
  } else {
    std::cout << "Client:\n  version: " << kClientVersion << '\n';
    if (server.ok()) {
      std::cout << "Server:\n"
                << "  version: " << server->version() << '\n'
                << "  cgroup mode: " << server->cgroup_mode() << '\n'
                << "  kernel: " << server->kernel() << '\n';
    }
  }
  return server.ok() ? 0 : ReportError(server.status());
}

}  // namespace

void AddVersionCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("version", "Show the client and server versions");
  OnRun(command, invocation, [](const GlobalOptions& global) { return RunVersion(global); });
}

}  // namespace quilt::cli
