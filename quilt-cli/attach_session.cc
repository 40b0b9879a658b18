#include "quilt-cli/attach_session.h"

#include <optional>

#include "quilt-cli/output.h"
#include "quilt-cli/terminal.h"

namespace quilt::cli {

absl::Status AttachSession(Client& client, grpc::ClientContext* context, const std::string& id,
                           bool tty, bool stdin_open) {
  auto stream = client.Attach(context);
  {
    std::optional<RawMode> raw;
    if (tty) raw.emplace();
    quilt::v1::AttachRequest first;
    first.set_ref(id);
    stream->Write(first);
    // The workload started before we could tell it our size: the first resize does, and
    // its SIGWINCH makes full-screen programs redraw.
    std::optional<quilt::v1::TerminalSize> size = tty ? LocalTerminalSize() : std::nullopt;
    if (size.has_value()) {
      quilt::v1::AttachRequest resize;
      *resize.mutable_input()->mutable_resize() = *size;
      stream->Write(resize);
    }
    InputPump input(
        stdin_open, tty,
        [&stream](const quilt::v1::TerminalInput& in) {
          quilt::v1::AttachRequest message;
          *message.mutable_input() = in;
          return stream->Write(message);
        },
        [&stream] { stream->WritesDone(); });
    quilt::v1::AttachResponse response;
    while (stream->Read(&response)) {
      const int fd = response.output().stream() == quilt::v1::LOG_STREAM_STDERR ? 2 : 1;
      if (absl::Status written = WriteAll(fd, response.output().data()); !written.ok()) {
        context->TryCancel();
      }
    }
  }
  grpc::Status status = stream->Finish();
  if (!status.ok()) return client.FailureStatus(status);
  return absl::OkStatus();
}

}  // namespace quilt::cli
