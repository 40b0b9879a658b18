// quilt-cli status REF (alias inspect): one container, as "key: value" lines or JSON.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

std::string LimitsText(const quilt::v1::Resources& resources) {
  std::string memory =
      resources.memory_bytes() > 0 ? HumanSize(resources.memory_bytes()) : "unlimited";
  std::string cpus = resources.cpus() > 0 ? absl::StrCat(resources.cpus()) : "unlimited";
  std::string pids = resources.pids_max() > 0    ? absl::StrCat(resources.pids_max())
                     : resources.pids_max() == 0 ? "default(4096)"
                                                 : "unlimited";
  return absl::StrCat("memory=", memory, " cpus=", cpus, " pids=", pids);
}

// "default", or the changes to it in the order the kernel applies them: drops, then adds.
std::string CapabilitiesText(const quilt::v1::ContainerSpec& spec) {
  std::string text = "default";
  for (const std::string& cap : spec.cap_drop()) absl::StrAppend(&text, " -", cap);
  for (const std::string& cap : spec.cap_add()) absl::StrAppend(&text, " +", cap);
  return text;
}

void PrintContainer(const quilt::v1::Container& container) {
  const quilt::v1::ContainerSpec& spec = container.spec();
  std::cout << "id: " << container.id() << '\n'
            << "name: " << container.name() << '\n'
            << "state: " << StateName(container.state()) << '\n'
            << "image: " << container.image_digest() << '\n'
            << "pid: " << container.pid() << '\n'
            << "exit code: " << container.exit_code() << '\n'
            << "exit signal: " << container.exit_signal() << '\n'
            << "reason: " << container.reason() << '\n'
            << "message: " << container.message() << '\n'
            << "created: " << FormatTimestamp(container.created_at()) << '\n'
            << "started: " << FormatTimestamp(container.started_at()) << '\n'
            << "finished: " << FormatTimestamp(container.finished_at()) << '\n'
            << "command: " << CommandText(spec.command()) << '\n'
            << "limits: " << LimitsText(spec.resources()) << '\n'
            << "capabilities: " << CapabilitiesText(spec) << '\n'
            << "seccomp: " << (spec.seccomp().empty() ? "default" : spec.seccomp()) << '\n'
            << "userns: " << (spec.userns().empty() ? "host" : spec.userns()) << '\n';
}

int RunStatus(const GlobalOptions& global, const std::string& ref) {
  Client client(global.socket);
  quilt::v1::GetRequest request;
  request.set_ref(ref);
  absl::StatusOr<quilt::v1::GetResponse> response = client.Get(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, ProtoToJson(response->container()));
  } else {
    PrintContainer(response->container());
  }
  return 0;
}

void AddOne(CLI::App& app, Invocation& invocation, const std::string& name) {
  CLI::App* command = app.add_subcommand(name, "Show one container");
  auto ref = std::make_shared<std::string>();
  command->add_option("ref", *ref, "Container id, id prefix or name")->required();
  OnRun(command, invocation,
        [ref](const GlobalOptions& global) { return RunStatus(global, *ref); });
}

}  // namespace

void AddStatusCommands(CLI::App& app, Invocation& invocation) {
  AddOne(app, invocation, "status");
  AddOne(app, invocation, "inspect");
}

}  // namespace quilt::cli
