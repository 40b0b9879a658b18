// quilt-cli: the command-line client of quiltd.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "CLI/CLI.hpp"
#include "common/defaults.h"
#include "quilt-cli/command.h"

int main(int argc, char** argv) {
  quilt::cli::Invocation invocation;
  invocation.global.socket = quilt::SocketFromEnv();

  CLI::App app("quilt-cli: run and manage Quilt containers", "quilt-cli");
  // Lets the global flags follow the command name: `quilt-cli ps --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--socket", invocation.global.socket, "quiltd socket ($QUILT_SOCKET)")
      ->capture_default_str();
  app.add_flag("--json", invocation.global.json, "Print JSON");

  quilt::cli::AddCreateCommand(app, invocation);
  quilt::cli::AddStartCommand(app, invocation);
  quilt::cli::AddRunCommand(app, invocation);
  quilt::cli::AddStatusCommands(app, invocation);
  quilt::cli::AddPsCommand(app, invocation);
  quilt::cli::AddLogsCommand(app, invocation);
  quilt::cli::AddWaitCommand(app, invocation);
  quilt::cli::AddStopCommand(app, invocation);
  quilt::cli::AddKillCommand(app, invocation);
  quilt::cli::AddRmCommand(app, invocation);
  quilt::cli::AddStatsCommand(app, invocation);
  quilt::cli::AddTopCommand(app, invocation);
  quilt::cli::AddExecCommand(app, invocation);
  quilt::cli::AddCpCommand(app, invocation);
  quilt::cli::AddImageCommand(app, invocation);
  quilt::cli::AddVersionCommand(app, invocation);
  quilt::cli::AddEventsCommand(app, invocation);
  quilt::cli::AddAttachCommand(app, invocation);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    bool is_run = app.got_subcommand("run");
    std::cerr << "quilt-cli: " << e.what() << " (see quilt-cli --help)" << std::endl;
    return is_run ? quilt::cli::kExitRunFailed : quilt::cli::kExitFailure;
  }
  const int code = invocation.run ? invocation.run() : quilt::cli::kExitFailure;
  // Everything the command owns is closed by now; skipping exit handlers skips gRPC's
  // shutdown, whose thread joins sleep for milliseconds (see ProcessChannel in client.cc).
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  _exit(code);
}
