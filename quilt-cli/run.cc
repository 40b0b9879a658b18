// quilt-cli run [create flags] [--rm] [-d] [-i] [-t] -- CMD...: creates and starts a
// container, copies its output to this terminal (with -i/-t: attaches this terminal to it)
// and exits with its exit code.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quilt-cli/attach_session.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/interrupt.h"
#include "quilt-cli/log_stream.h"
#include "quilt-cli/output.h"
#include "quilt-cli/spec_flags.h"
#include "quilt-cli/terminal.h"

namespace quilt::cli {
namespace {

struct RunOptions {
  SpecFlags spec;
  bool remove = false;
  bool detach = false;
};

// One `run` of one container, after Create succeeded.
class Runner {
 public:
  Runner(Client& client, InterruptWatcher& watcher, std::string id, bool remove)
      : client_(client), watcher_(watcher), id_(std::move(id)), remove_(remove) {}

  // Attaches to the workload (created with tty and/or stdin_open) to its end; returns the
  // exit code of quilt-cli.
  int Attach(const quilt::v1::Container& created, bool tty, bool stdin_open) {
    if (created.state() == quilt::v1::CONTAINER_STATE_FAILED) return Failed(created, true);
    if (watcher_.signal() != 0) return Interrupted();
    grpc::ClientContext context;
    watcher_.Watch(&context);
    absl::Status attached = AttachSession(client_, &context, id_, tty, stdin_open);
    watcher_.Watch(nullptr);
    // Dropped for reading too slowly: the workload runs on; attach again (what it wrote
    // meanwhile is only in the log).
    while (absl::IsAborted(attached) && watcher_.signal() == 0) {
      std::cerr << "quilt-cli: output came faster than shown; some skipped (see logs)" << std::endl;
      grpc::ClientContext again;
      watcher_.Watch(&again);
      attached = AttachSession(client_, &again, id_, tty, stdin_open);
      watcher_.Watch(nullptr);
    }
    if (watcher_.signal() != 0) return Interrupted();
    // A workload that ended before we attached leaves its output in the log.
    if (absl::IsFailedPrecondition(attached)) return Follow(created);
    if (!attached.ok()) ReportError(attached);
    return AfterExit();
  }

  // Follows the workload to its end; returns the exit code of quilt-cli.
  int Follow(const quilt::v1::Container& created) {
    if (created.state() == quilt::v1::CONTAINER_STATE_FAILED) return Failed(created, true);
    if (watcher_.signal() != 0) return Interrupted();
    quilt::v1::LogsRequest request;
    request.set_ref(id_);
    request.set_follow(true);
    grpc::ClientContext logs_context;
    watcher_.Watch(&logs_context);
    absl::Status copied = CopyLogs(client_, &logs_context, request, {});
    watcher_.Watch(nullptr);
    if (watcher_.signal() != 0) return Interrupted();
    // Output lost is reported, but the exit code still decides how run ends.
    if (!copied.ok()) ReportError(copied);
    return AfterExit();
  }

 private:
  int AfterExit() {
    quilt::v1::WaitRequest request;
    request.set_ref(id_);
    grpc::ClientContext wait_context;
    watcher_.Watch(&wait_context);
    absl::StatusOr<quilt::v1::WaitResponse> waited = client_.Wait(request, &wait_context);
    watcher_.Watch(nullptr);
    if (watcher_.signal() != 0) return Interrupted();
    if (!waited.ok()) return ReportError(waited.status());
    const quilt::v1::Container& container = waited->container();
    if (container.state() == quilt::v1::CONTAINER_STATE_FAILED) return Failed(container, false);
    return Finish(container.exit_code());
  }

  // The workload never ran (or Quilt lost it): say why. Setup output, if any, was streamed
  // already, or is printed here when Create itself reported the failure.
  int Failed(const quilt::v1::Container& container, bool print_setup_output) {
    if (print_setup_output) {
      quilt::v1::LogsRequest request;
      request.set_ref(id_);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           absl::ToChronoNanoseconds(kShortDeadline));
      // Best effort: the failure message below matters more than the setup output.
      CopyLogs(client_, &context, request, {}).IgnoreError();
    }
    ReportError(absl::FailedPreconditionError(absl::StrCat(
        "container ", ShortId(id_), " failed: ", container.reason(), ": ", container.message())));
    return Finish(kExitRunFailed);
  }

  // Ctrl-C or SIGTERM: stop the workload with the same signal, clean up, exit 128 + signal.
  int Interrupted() {
    int signal = watcher_.signal();
    quilt::v1::StopRequest stop;
    stop.set_ref(id_);
    stop.set_signal(signal);
    absl::StatusOr<quilt::v1::StopResponse> stopped = client_.Stop(stop);
    if (!stopped.ok()) ReportError(stopped.status());
    return Finish(128 + signal);
  }

  int Finish(int exit_code) {
    if (!remove_) return exit_code;
    quilt::v1::RemoveRequest request;
    request.set_ref(id_);
    request.set_force(true);
    absl::StatusOr<quilt::v1::RemoveResponse> removed = client_.Remove(request);
    if (!removed.ok()) ReportError(removed.status());
    return exit_code;
  }

  Client& client_;
  InterruptWatcher& watcher_;
  std::string id_;
  bool remove_;
};

int RunRun(const GlobalOptions& global, const RunOptions& options) {
  if (options.detach && options.remove) {
    return ReportError(absl::InvalidArgumentError("--rm and -d cannot be combined"),
                       kExitRunFailed);
  }
  absl::StatusOr<quilt::v1::ContainerSpec> spec = BuildSpec(options.spec, CurrentDir(), ProcessEnv);
  if (!spec.ok()) return ReportError(spec.status(), kExitRunFailed);
  const bool interactive = options.spec.interactive, tty = options.spec.tty;
  if (interactive && tty && !options.detach && !isatty(0)) {
    return ReportError(absl::InvalidArgumentError("run: -it needs a terminal on stdin"),
                       kExitRunFailed);
  }
  quilt::v1::CreateRequest request;
  *request.mutable_spec() = *std::move(spec);
  request.set_start(true);

  // Before any thread exists (the watcher's, gRPC's), so that every thread inherits the
  // blocked signals: one that did not block SIGWINCH would take it and drop it.
  BlockWindowChanges();
  InterruptWatcher watcher;
  Client client(global.socket);
  // Not cancelled on Ctrl-C: a half-done Create would leave a container we cannot name.
  absl::StatusOr<quilt::v1::CreateResponse> created = client.Create(request, std::nullopt);
  if (!created.ok()) return ReportError(created.status(), kExitRunFailed);
  const quilt::v1::Container& container = created->container();
  if (options.detach && container.state() != quilt::v1::CONTAINER_STATE_FAILED) {
    PrintId(global, container.id());
    return 0;
  }
  Runner runner(client, watcher, container.id(), options.remove);
  if (interactive || tty) return runner.Attach(container, tty, interactive);
  return runner.Follow(container);
}

}  // namespace

void AddRunCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand("run", "Create and start a container, follow its output");
  auto options = std::make_shared<RunOptions>();
  AddSpecFlags(command, &options->spec);
  command->add_flag("--rm", options->remove, "Remove the container when it stops");
  command->add_flag("-d,--detach", options->detach, "Print the id and return at once");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunRun(global, *options); });
}

}  // namespace quilt::cli
