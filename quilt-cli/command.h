// What every quilt-cli command shares: global options, the chosen command's action, and the
// one-line error report.
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace quilt::cli {

// Exit code for a failure of quilt-cli itself or of the daemon.
inline constexpr int kExitFailure = 1;
// Exit code of `run` when the workload never ran (docker's 125).
inline constexpr int kExitRunFailed = 125;

// Flags accepted by every command.
struct GlobalOptions {
  // Unix socket of quiltd.
  std::string socket;
  // Print JSON instead of text.
  bool json = false;
};

// The parsed command line: the global options and, once a command's callback ran, what to do.
struct Invocation {
  GlobalOptions global;
  // Runs the chosen command; returns the process exit code.
  std::function<int()> run;
};

// Makes `command` set `invocation.run` to `action(invocation.global)` when it is chosen.
template <typename Action>
void OnRun(CLI::App* command, Invocation& invocation, Action action) {
  command->callback([&invocation, action] {
    invocation.run = [&invocation, action] { return action(invocation.global); };
  });
}

// Prints "quilt-cli: <message>" on stderr and returns `exit_code`.
int ReportError(const absl::Status& status, int exit_code = kExitFailure);

// Prints a container id: the bare id, or {"id": ...} with --json.
void PrintId(const GlobalOptions& global, const std::string& id);

// The current working directory, used to make relative paths absolute ("" if it is gone).
std::string CurrentDir();

// Each adds its subcommand to `app`; its callback sets `invocation->run`.
void AddCreateCommand(CLI::App& app, Invocation& invocation);
void AddStartCommand(CLI::App& app, Invocation& invocation);
void AddRunCommand(CLI::App& app, Invocation& invocation);
void AddStatusCommands(CLI::App& app, Invocation& invocation);  // status and inspect
void AddPsCommand(CLI::App& app, Invocation& invocation);
void AddLogsCommand(CLI::App& app, Invocation& invocation);
void AddWaitCommand(CLI::App& app, Invocation& invocation);
void AddStopCommand(CLI::App& app, Invocation& invocation);
void AddKillCommand(CLI::App& app, Invocation& invocation);
void AddRmCommand(CLI::App& app, Invocation& invocation);
void AddStatsCommand(CLI::App& app, Invocation& invocation);
void AddTopCommand(CLI::App& app, Invocation& invocation);
void AddExecCommand(CLI::App& app, Invocation& invocation);
void AddCpCommand(CLI::App& app, Invocation& invocation);
void AddImageCommand(CLI::App& app, Invocation& invocation);
void AddVersionCommand(CLI::App& app, Invocation& invocation);
void AddEventsCommand(CLI::App& app, Invocation& invocation);
void AddAttachCommand(CLI::App& app, Invocation& invocation);

}  // namespace quilt::cli
