// quilt-cli attach REF: attaches this terminal to the workload of a running container created
// with -i and/or -t (create -it, then start), until it ends; exits with its exit code.
// Ctrl-C, with a tty, goes to the workload; a signal to quilt-cli detaches.
#include <unistd.h>

#include <memory>
#include <string>

#include "quilt-cli/attach_session.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/interrupt.h"
#include "quilt-cli/terminal.h"

namespace quilt::cli {
namespace {

int RunAttach(const GlobalOptions& global, const std::string& ref) {
  // Before any thread exists (the watcher's, gRPC's), so that every thread inherits the
  // blocked signals: one that did not block SIGWINCH would take it and drop it.
  BlockWindowChanges();
  InterruptWatcher watcher;
  Client client(global.socket);
  quilt::v1::GetRequest get;
  get.set_ref(ref);
  absl::StatusOr<quilt::v1::GetResponse> found = client.Get(get);
  if (!found.ok()) return ReportError(found.status());
  const quilt::v1::Container& container = found->container();
  const bool tty = container.spec().tty();
  const bool stdin_open = container.spec().stdin_open();
  if (tty && stdin_open && !isatty(0)) {
    return ReportError(absl::InvalidArgumentError("attach: a -it container needs a terminal"));
  }
  grpc::ClientContext context;
  watcher.Watch(&context);
  absl::Status attached = AttachSession(client, &context, container.id(), tty, stdin_open);
  watcher.Watch(nullptr);
  if (watcher.signal() != 0) return 128 + watcher.signal();
  if (!attached.ok()) return ReportError(attached);
  quilt::v1::WaitRequest wait;
  wait.set_ref(container.id());
  absl::StatusOr<quilt::v1::WaitResponse> waited = client.Wait(wait);
  if (!waited.ok()) return ReportError(waited.status());
  return waited->container().exit_code();
}

}  // namespace

void AddAttachCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand(
      "attach", "Attach this terminal to a running container created with -i or -t");
  auto ref = std::make_shared<std::string>();
  command->add_option("ref", *ref, "Container id, id prefix or name")->required();
  OnRun(command, invocation,
        [ref](const GlobalOptions& global) { return RunAttach(global, *ref); });
}

}  // namespace quilt::cli
