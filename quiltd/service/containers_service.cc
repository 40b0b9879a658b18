#include "quiltd/service/containers_service.h"

#include <csignal>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "quiltd/service/attach_reactor.h"
#include "quiltd/service/copy_reactors.h"
#include "quiltd/service/exec_reactor.h"
#include "quiltd/service/logs_reactor.h"
#include "quiltd/service/proto_conversion.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/unary.h"
#include "quiltd/service/wait_reactor.h"

namespace quilt {
namespace {

constexpr int kDefaultStopSeconds = 10;

bool Matches(const v1::ListRequest& request, const ContainerRecord& record) {
  if (request.state() != v1::CONTAINER_STATE_UNSPECIFIED) {
    if (ToProto(record.state) != request.state()) return false;
  } else if (!request.all() && record.state != ContainerState::kRunning) {
    return false;
  }
  return request.name_contains().empty() || absl::StrContains(record.name, request.name_contains());
}

}  // namespace

ContainersService::ContainersService(Runtime* runtime, ThreadPool* pool)
    : runtime_(runtime), pool_(pool) {
  service_.Serve("Create", this, &ContainersService::Create);
  service_.Serve("Start", this, &ContainersService::Start);
  service_.Serve("Get", this, &ContainersService::Get);
  service_.Serve("List", this, &ContainersService::List);
  service_.Serve("Logs", this, &ContainersService::Logs);
  service_.Serve("Wait", this, &ContainersService::Wait);
  service_.Serve("Stop", this, &ContainersService::Stop);
  service_.Serve("Kill", this, &ContainersService::Kill);
  service_.Serve("Remove", this, &ContainersService::Remove);
  service_.Serve("Stats", this, &ContainersService::Stats);
  service_.Serve("Top", this, &ContainersService::Top);
  service_.Serve("Exec", this, &ContainersService::Exec);
  service_.Serve("Attach", this, &ContainersService::Attach);
  service_.Serve("CopyTo", this, &ContainersService::CopyTo);
  service_.Serve("CopyFrom", this, &ContainersService::CopyFrom);
}

grpc::ServerUnaryReactor* ContainersService::Create(grpc::CallbackServerContext* context,
                                                    const v1::CreateRequest* request,
                                                    v1::CreateResponse* response) {
  if (absl::Status valid = ValidateSpec(request->spec()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(ContainerRecord record, runtime_->CreateContainer(request->spec()));
    if (request->start()) {
      absl::StatusOr<ContainerRecord> started = runtime_->Start(record.id);
      if (!started.ok()) {
        // The caller learns only of the error, so it must not find a container either.
        (void)runtime_->Remove(record.id, /*force=*/true);
        return started.status();
      }
      record = *std::move(started);
    }
    *response->mutable_container() = ToProto(record);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ContainersService::Start(grpc::CallbackServerContext* context,
                                                   const v1::StartRequest* request,
                                                   v1::StartResponse* response) {
  if (absl::Status valid = ValidateRef(request->ref()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(ContainerRecord record, runtime_->Start(request->ref()));
    *response->mutable_container() = ToProto(record);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ContainersService::Get(grpc::CallbackServerContext* context,
                                                 const v1::GetRequest* request,
                                                 v1::GetResponse* response) {
  absl::Status status = ValidateRef(request->ref());
  if (status.ok()) {
    absl::StatusOr<ContainerRecord> record = runtime_->Get(request->ref());
    status = record.status();
    if (record.ok()) *response->mutable_container() = ToProto(*record);
  }
  return FinishNow(context, status);
}

grpc::ServerUnaryReactor* ContainersService::List(grpc::CallbackServerContext* context,
                                                  const v1::ListRequest* request,
                                                  v1::ListResponse* response) {
  if (absl::Status valid = ValidateListRequest(*request); !valid.ok()) {
    return FinishNow(context, valid);
  }
  absl::StatusOr<std::vector<ContainerRecord>> records = runtime_->List();
  if (records.ok()) {
    for (const ContainerRecord& record : *records) {
      if (Matches(*request, record)) *response->add_containers() = ToProto(record);
    }
  }
  return FinishNow(context, records.status());
}

grpc::ServerWriteReactor<v1::LogsResponse>* ContainersService::Logs(
    grpc::CallbackServerContext* context, const v1::LogsRequest* request) {
  return new LogsReactor(context, runtime_, *request);
}

grpc::ServerBidiReactor<ParsedRequest<v1::ExecRequest>, v1::ExecResponse>* ContainersService::Exec(
    grpc::CallbackServerContext*) {
  return new ExecReactor(runtime_);
}

grpc::ServerBidiReactor<ParsedRequest<v1::AttachRequest>, v1::AttachResponse>*
ContainersService::Attach(grpc::CallbackServerContext*) {
  return new AttachReactor(runtime_);
}

grpc::ServerUnaryReactor* ContainersService::Wait(grpc::CallbackServerContext* context,
                                                  const v1::WaitRequest* request,
                                                  v1::WaitResponse* response) {
  if (absl::Status valid = ValidateRef(request->ref()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return new WaitReactor(runtime_, request->ref(), response);
}

grpc::ServerUnaryReactor* ContainersService::Stop(grpc::CallbackServerContext* context,
                                                  const v1::StopRequest* request,
                                                  v1::StopResponse* response) {
  if (absl::Status valid = ValidateStopRequest(*request); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    const int seconds =
        request->has_timeout_seconds() ? request->timeout_seconds() : kDefaultStopSeconds;
    const int signal = request->signal() != 0 ? request->signal() : SIGTERM;
    QUILT_ASSIGN_OR_RETURN(ContainerRecord record,
                           runtime_->Stop(request->ref(), absl::Seconds(seconds), signal));
    *response->mutable_container() = ToProto(record);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ContainersService::Kill(grpc::CallbackServerContext* context,
                                                  const v1::KillRequest* request,
                                                  v1::KillResponse*) {
  absl::Status status = ValidateRef(request->ref());
  if (status.ok()) status = ValidateSignal(request->signal());
  if (status.ok()) {
    status = runtime_->Kill(request->ref(), request->signal() != 0 ? request->signal() : SIGKILL);
  }
  return FinishNow(context, status);
}

grpc::ServerUnaryReactor* ContainersService::Remove(grpc::CallbackServerContext* context,
                                                    const v1::RemoveRequest* request,
                                                    v1::RemoveResponse* response) {
  if (absl::Status valid = ValidateRef(request->ref()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(std::string id, runtime_->Remove(request->ref(), request->force()));
    response->set_id(id);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ContainersService::Stats(grpc::CallbackServerContext* context,
                                                   const v1::StatsRequest* request,
                                                   v1::StatsResponse* response) {
  if (absl::Status valid = ValidateRef(request->ref()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  // Reading cgroup files is file I/O: keep it off the gRPC threads.
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(ContainerStats stats, runtime_->Stats(request->ref()));
    response->set_id(stats.id);
    response->set_memory_current(stats.usage.memory_current);
    response->set_memory_peak(stats.usage.memory_peak);
    response->set_memory_limit(stats.usage.memory_limit);
    response->set_cpu_usage_ns(stats.usage.cpu_usage_ns);
    response->set_pids_current(stats.usage.pids_current);
    response->set_oom_kills(stats.usage.oom_kills);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ContainersService::Top(grpc::CallbackServerContext* context,
                                                 const v1::TopRequest* request,
                                                 v1::TopResponse* response) {
  if (absl::Status valid = ValidateRef(request->ref()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  // Reading cgroup and /proc files is file I/O: keep it off the gRPC threads.
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(ContainerProcesses top, runtime_->Top(request->ref()));
    response->set_id(top.id);
    for (const ProcessInfo& info : top.processes) *response->add_processes() = ToProto(info);
    return absl::OkStatus();
  });
}

grpc::ServerReadReactor<ParsedRequest<v1::CopyToRequest>>* ContainersService::CopyTo(
    grpc::CallbackServerContext*, v1::CopyToResponse* response) {
  return new CopyToReactor(runtime_, response);
}

grpc::ServerWriteReactor<v1::CopyFromResponse>* ContainersService::CopyFrom(
    grpc::CallbackServerContext*, const v1::CopyFromRequest* request) {
  return new CopyFromReactor(runtime_, *request);
}

}  // namespace quilt
