// quilt-cli top REF: the processes of a running container, as docker top lists them.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

// A container's process chooses its own command line: control bytes are shown escaped, so
// that printing one cannot drive this terminal.
std::string EscapeControls(absl::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      absl::StrAppendFormat(&out, "\\x%02x", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// CPU time as ps prints it: minutes:seconds.
std::string CpuTime(int64_t ns) {
  const int64_t seconds = ns / 1'000'000'000;
  return absl::StrFormat("%d:%02d", seconds / 60, seconds % 60);
}

std::string Command(const quilt::v1::ContainerProcess& process) {
  if (process.argv().empty()) return absl::StrCat("[", EscapeControls(process.name()), "]");
  google::protobuf::RepeatedPtrField<std::string> argv;
  for (const std::string& arg : process.argv()) *argv.Add() = EscapeControls(arg);
  return CommandText(argv);
}

int RunTop(const GlobalOptions& global, const std::string& ref) {
  Client client(global.socket);
  quilt::v1::TopRequest request;
  request.set_ref(ref);
  absl::StatusOr<quilt::v1::TopResponse> response = client.Top(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, ProtoToJson(*response));
    return 0;
  }
  Table table({"PID", "HOST PID", "PPID", "UID", "STAT", "RSS", "TIME", "COMMAND"});
  for (const quilt::v1::ContainerProcess& p : response->processes()) {
    table.AddRow({absl::StrCat(p.pid()), absl::StrCat(p.host_pid()), absl::StrCat(p.ppid()),
                  absl::StrCat(p.uid()), p.state(), HumanSize(p.rss_bytes()), CpuTime(p.cpu_ns()),
                  Command(p)});
  }
  table.Print(std::cout);
  return 0;
}

}  // namespace

void AddTopCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("top", "List the processes of a running container");
  auto ref = std::make_shared<std::string>();
  command->add_option("ref", *ref, "Container id, id prefix or name")->required();
  OnRun(command, invocation, [ref](const GlobalOptions& global) { return RunTop(global, *ref); });
}

}  // namespace quilt::cli
