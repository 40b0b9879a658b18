// Exec: through the container's exec server (quiltd/monitor/exec_server.h), started on the
// first exec; a one-shot `quilt-monitor exec` helper when no server can be had.
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "quiltd/runtime/bundle.h"
#include "quiltd/runtime/exec_server_client.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

absl::StatusOr<ExecProcess> Runtime::StartExec(const std::string& ref, const ExecOptions& options) {
  QUILT_ASSIGN_OR_RETURN(PendingExec pending, BeginExec(ref, options));
  return FinishExec(std::move(pending));
}

absl::StatusOr<PendingExec> Runtime::OfferExec(const ContainerRecord& record,
                                               std::string container_config,
                                               const MonitorConfig& exec_config, const ExecIo& io) {
  PendingExec pending{record, std::move(container_config), SerializeMonitorConfig(exec_config), io,
                      std::nullopt};
  // Sent at once, so that the server works while the caller hands FinishExec to its thread.
  // Whatever stops it (no server yet, most often) is FinishExec's business.
  absl::StatusOr<SentExecRequest> sent =
      SendExecRequest(Bundle(ContainersDir(), record.id).dir, pending.exec_config, io);
  if (sent.ok()) pending.sent = *std::move(sent);
  return pending;
}

absl::StatusOr<ExecProcess> Runtime::FinishExec(PendingExec pending) {
  const ContainerRecord& record = pending.record;
  const Bundle bundle(ContainersDir(), record.id);
  const std::string& exec_json = pending.exec_config;
  const ExecIo& io = pending.io;
  absl::StatusOr<ExecProcess> process = pending.sent.has_value()
                                            ? AwaitExecAccepted(*std::move(pending.sent))
                                            : RequestExec(bundle.dir, exec_json, io);
  // A server that does not answer was stopped, maybe by the container's root: the helper,
  // outside the container's pid namespace, cannot be.
  if (absl::IsDeadlineExceeded(process.status())) {
    return RunExecHelper(record, exec_json, io, process.status());
  }
  if (!absl::IsUnavailable(process.status())) return process;
  // No server yet (the container's first exec), or it is gone (killed): one start per
  // container at a time, and a second look first, since another exec may have just made one.
  absl::Status server;
  {
    absl::MutexLock lock(
        &exec_server_mu_[absl::Hash<std::string>()(record.id) % exec_server_mu_.size()]);
    process = RequestExec(bundle.dir, exec_json, io);
    if (!absl::IsUnavailable(process.status())) return process;
    QUILT_ASSIGN_OR_RETURN(UniqueFd pidfd, InitPidfd(record, "exec in"));
    server = StartExecServer(launcher_.monitor_path(), pending.container_config, pidfd.get(),
                             record.init_pid);
    if (server.ok()) {
      process = RequestExec(bundle.dir, exec_json, io);
      if (!absl::IsUnavailable(process.status())) return process;
      server = process.status();
    }
  }
  // The container is gone: so is any way to exec in it.
  if (absl::IsFailedPrecondition(server)) return server;
  return RunExecHelper(record, exec_json, io, server);
}

absl::StatusOr<ExecProcess> Runtime::RunExecHelper(const ContainerRecord& record,
                                                   const std::string& exec_config, const ExecIo& io,
                                                   const absl::Status& why) {
  QUILT_LOG(WARNING) << "exec in " << record.id << ": no exec server (" << why
                     << "); running a one-shot helper";
  QUILT_ASSIGN_OR_RETURN(UniqueFd pidfd, InitPidfd(record, "exec in"));
  return SpawnExecHelper(launcher_.monitor_path(), exec_config, pidfd.get(), record.init_pid, io);
}

}  // namespace quilt
