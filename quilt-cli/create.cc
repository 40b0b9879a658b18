// quilt-cli create [flags] [-- CMD ARGS...]: creates a container and prints its id.
#include <memory>
#include <optional>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/spec_flags.h"

namespace quilt::cli {
namespace {

int RunCreate(const GlobalOptions& global, const SpecFlags& flags) {
  absl::StatusOr<quilt::v1::ContainerSpec> spec = BuildSpec(flags, CurrentDir(), ProcessEnv);
  if (!spec.ok()) return ReportError(spec.status());
  quilt::v1::CreateRequest request;
  *request.mutable_spec() = *std::move(spec);
  // A tarball image is imported during Create, which takes as long as unpacking does.
  bool imports = !request.spec().image().empty() && request.spec().image()[0] == '/';
  Client client(global.socket);
  absl::StatusOr<quilt::v1::CreateResponse> response =
      client.Create(request, imports ? std::nullopt : std::optional(kShortDeadline));
  if (!response.ok()) return ReportError(response.status());
  PrintId(global, response->container().id());
  return 0;
}

}  // namespace

void AddCreateCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("create", "Create a container (prints its id)");
  auto flags = std::make_shared<SpecFlags>();
  AddSpecFlags(command, flags.get());
  OnRun(command, invocation,
        [flags](const GlobalOptions& global) { return RunCreate(global, *flags); });
}

}  // namespace quilt::cli
