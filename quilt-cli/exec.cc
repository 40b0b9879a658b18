// quilt-cli exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] [--timeout S] REF -- CMD ARGS...: runs
// a command in a running container, copies its output to our stdout/stderr (and, with -i,
// our stdin to it) and exits with its code. -t gives it a terminal in the container and puts
// ours in raw mode.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/interrupt.h"
#include "quilt-cli/output.h"
#include "quilt-cli/parse.h"
#include "quilt-cli/terminal.h"

namespace quilt::cli {
namespace {

struct ExecOptions {
  std::string ref;
  std::vector<std::string> command;
  std::vector<std::string> env;
  std::string workdir;
  std::string user;
  int timeout_seconds = 0;
  bool interactive = false;
  bool tty = false;
};

absl::StatusOr<quilt::v1::ExecRequest> BuildRequest(const ExecOptions& options) {
  quilt::v1::ExecRequest message;
  quilt::v1::ExecStart& request = *message.mutable_start();
  request.set_ref(options.ref);
  request.mutable_command()->Add(options.command.begin(), options.command.end());
  for (const std::string& entry : options.env) {
    absl::StatusOr<std::optional<std::string>> parsed = ParseEnv(entry, ProcessEnv);
    if (!parsed.ok()) return parsed.status();
    if (parsed->has_value()) request.add_env(**std::move(parsed));
  }
  request.set_working_dir(options.workdir);
  request.set_user(options.user);
  request.set_timeout_seconds(options.timeout_seconds);
  request.set_stdin_open(options.interactive);
  request.set_tty(options.tty);
  if (options.tty) {
    std::optional<quilt::v1::TerminalSize> size = LocalTerminalSize();
    if (size.has_value()) *request.mutable_terminal_size() = *size;
  }
  return message;
}

int RunExec(const GlobalOptions& global, const ExecOptions& options) {
  if (options.interactive && options.tty && !isatty(0)) {
    return ReportError(absl::InvalidArgumentError("exec: -it needs a terminal on stdin"));
  }
  absl::StatusOr<quilt::v1::ExecRequest> request = BuildRequest(options);
  if (!request.ok()) return ReportError(request.status());
  // Before any thread exists (the watcher's, gRPC's), so that every thread inherits the
  // blocked signals: one that did not block SIGWINCH would take it and drop it.
  BlockWindowChanges();
  // Ctrl-C (without a tty: with one it is a byte for the container) cancels the call, which
  // makes quiltd kill the command.
  InterruptWatcher watcher;
  Client client(global.socket);
  grpc::ClientContext context;
  watcher.Watch(&context);
  auto stream = client.Exec(&context);
  std::optional<quilt::v1::ExecExit> exit;
  {
    std::optional<RawMode> raw;
    if (options.tty) raw.emplace();
    // A failed write shows in Read and Finish below.
    stream->Write(*request);
    InputPump input(
        options.interactive, options.tty,
        [&stream](const quilt::v1::TerminalInput& in) {
          quilt::v1::ExecRequest message;
          *message.mutable_input() = in;
          return stream->Write(message);
        },
        [&stream] { stream->WritesDone(); });
    quilt::v1::ExecResponse response;
    while (stream->Read(&response)) {
      if (response.has_exit()) {
        exit = response.exit();
        continue;
      }
      const int fd = response.output().stream() == quilt::v1::LOG_STREAM_STDERR ? 2 : 1;
      if (absl::Status written = WriteAll(fd, response.output().data()); !written.ok()) {
        context.TryCancel();
      }
    }
    // The call is over: input cannot matter any more, and a pending Write returns at once.
    // Not when it failed: a cancel before Finish would replace quiltd's status (an unknown
    // user, a stopped container) with CANCELLED; the input pump's writes fail anyway once
    // the server has ended the call.
    if (exit.has_value()) context.TryCancel();
  }
  watcher.Watch(nullptr);
  grpc::Status status = stream->Finish();
  if (!exit.has_value()) {
    // Interrupted: quiltd kills the command when the call is cancelled; exit like a shell.
    if (watcher.signal() != 0) return 128 + watcher.signal();
    if (!status.ok()) return ReportError(client.FailureStatus(status));
    return ReportError(absl::InternalError("exec: the stream ended without an exit status"));
  }
  if (exit->timed_out()) {
    std::cerr << "quilt-cli: exec: timed out after " << options.timeout_seconds
              << " s, command killed" << std::endl;
  }
  return exit->exit_code();
}

}  // namespace

void AddExecCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("exec", "Run a command in a running container");
  auto options = std::make_shared<ExecOptions>();
  command->add_option("-e,--env", options->env, "Environment KEY=VALUE, or KEY to pass ours")
      ->allow_extra_args(false);
  command->add_option("-w,--workdir", options->workdir, "Working directory inside the container");
  command->add_option("-u,--user", options->user, "uid[:gid] or name[:group]");
  command->add_flag("-i,--interactive", options->interactive, "Pass our stdin to the command");
  command->add_flag("-t,--tty", options->tty, "Run the command on a terminal in the container");
  command->add_option("--timeout", options->timeout_seconds,
                      "Kill the command after this many seconds (0: never)");
  command->add_option("ref", options->ref, "Container id, id prefix or name")->required();
  // After "--" CLI11 hands every word to this positional untouched, flags included.
  command->add_option("command", options->command, "Command and arguments (after --)")->required();
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunExec(global, *options); });
}

}  // namespace quilt::cli
