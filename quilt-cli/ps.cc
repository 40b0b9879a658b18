// quilt-cli ps [-a] [-q]: lists containers as a table, ids, or a JSON array.
#include <iostream>
#include <memory>

#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

constexpr size_t kCommandWidth = 40;

struct PsOptions {
  bool all = false;
  bool quiet = false;
};

void PrintTable(const quilt::v1::ListResponse& list) {
  absl::Time now = absl::Now();
  Table table({"ID", "NAME", "IMAGE", "STATE", "STATUS", "COMMAND"});
  for (const quilt::v1::Container& container : list.containers()) {
    table.AddRow({ShortId(container.id()), container.name(),
                  ShortId(absl::StripPrefix(container.image_digest(), "sha256:")),
                  StateName(container.state()), StatusText(container, now),
                  Truncate(CommandText(container.spec().command()), kCommandWidth)});
  }
  table.Print(std::cout);
}

int RunPs(const GlobalOptions& global, const PsOptions& options) {
  Client client(global.socket);
  quilt::v1::ListRequest request;
  request.set_all(options.all);
  absl::StatusOr<quilt::v1::ListResponse> response = client.List(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    nlohmann::json array = nlohmann::json::array();
    for (const quilt::v1::Container& container : response->containers()) {
      array.push_back(ProtoToJson(container));
    }
    PrintJson(std::cout, array);
  } else if (options.quiet) {
    for (const quilt::v1::Container& container : response->containers()) {
      std::cout << container.id() << '\n';
    }
  } else {
    PrintTable(*response);
  }
  return 0;
}

}  // namespace

void AddPsCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("ps", "List containers (running ones unless -a)");
  auto options = std::make_shared<PsOptions>();
  command->add_flag("-a,--all", options->all, "Include created, exited and failed containers");
  command->add_flag("-q,--quiet", options->quiet, "Print full ids only");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunPs(global, *options); });
}

}  // namespace quilt::cli
