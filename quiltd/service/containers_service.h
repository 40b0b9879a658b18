// quilt.v1.Containers over the callback API. Validates, hands work to the runtime on the
// thread pool (never blocking a gRPC thread), maps statuses. Requests reach the handlers
// through ParsedRequestService, which refuses the ones that do not parse.
#pragma once

#include "common/thread_pool.h"
#include "quilt/v1/quilt.grpc.pb.h"
#include "quiltd/runtime/runtime.h"
#include "quiltd/service/parsed_request.h"

namespace quilt {

class ContainersService final {
 public:
  ContainersService(Runtime* runtime, ThreadPool* pool);
  ContainersService(const ContainersService&) = delete;
  ContainersService& operator=(const ContainersService&) = delete;

  // What to register with the grpc::ServerBuilder.
  grpc::Service* grpc_service() { return &service_; }

 private:
  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* context,
                                   const v1::CreateRequest* request, v1::CreateResponse* response);
  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* context,
                                  const v1::StartRequest* request, v1::StartResponse* response);
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const v1::GetRequest* request,
                                v1::GetResponse* response);
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request, v1::ListResponse* response);
  grpc::ServerWriteReactor<v1::LogsResponse>* Logs(grpc::CallbackServerContext* context,
                                                   const v1::LogsRequest* request);
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* context,
                                 const v1::WaitRequest* request, v1::WaitResponse* response);
  grpc::ServerUnaryReactor* Stop(grpc::CallbackServerContext* context,
                                 const v1::StopRequest* request, v1::StopResponse* response);
  grpc::ServerUnaryReactor* Kill(grpc::CallbackServerContext* context,
                                 const v1::KillRequest* request, v1::KillResponse* response);
  grpc::ServerUnaryReactor* Remove(grpc::CallbackServerContext* context,
                                   const v1::RemoveRequest* request, v1::RemoveResponse* response);
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request, v1::StatsResponse* response);
  grpc::ServerUnaryReactor* Top(grpc::CallbackServerContext* context, const v1::TopRequest* request,
                                v1::TopResponse* response);
  grpc::ServerBidiReactor<ParsedRequest<v1::ExecRequest>, v1::ExecResponse>* Exec(
      grpc::CallbackServerContext* context);
  grpc::ServerBidiReactor<ParsedRequest<v1::AttachRequest>, v1::AttachResponse>* Attach(
      grpc::CallbackServerContext* context);
  grpc::ServerReadReactor<ParsedRequest<v1::CopyToRequest>>* CopyTo(
      grpc::CallbackServerContext* context, v1::CopyToResponse* response);
  grpc::ServerWriteReactor<v1::CopyFromResponse>* CopyFrom(grpc::CallbackServerContext* context,
                                                           const v1::CopyFromRequest* request);

  Runtime* runtime_;
  ThreadPool* pool_;
  ParsedRequestService<v1::Containers> service_;
};

}  // namespace quilt
