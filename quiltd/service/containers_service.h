// quilt.v1.Containers over the callback API. Validates, hands work to the runtime on the
// thread pool (never blocking a gRPC thread), maps statuses.
#pragma once

#include "common/thread_pool.h"
#include "quilt/v1/quilt.grpc.pb.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

class ContainersService final : public v1::Containers::CallbackService {
 public:
  ContainersService(Runtime* runtime, ThreadPool* pool) : runtime_(runtime), pool_(pool) {}

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* context,
                                   const v1::CreateRequest* request,
                                   v1::CreateResponse* response) override;
  grpc::ServerUnaryReactor* Start(grpc::CallbackServerContext* context,
                                  const v1::StartRequest* request,
                                  v1::StartResponse* response) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context, const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerWriteReactor<v1::LogsResponse>* Logs(grpc::CallbackServerContext* context,
                                                   const v1::LogsRequest* request) override;
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* context,
                                 const v1::WaitRequest* request,
                                 v1::WaitResponse* response) override;
  grpc::ServerUnaryReactor* Stop(grpc::CallbackServerContext* context,
                                 const v1::StopRequest* request,
                                 v1::StopResponse* response) override;
  grpc::ServerUnaryReactor* Kill(grpc::CallbackServerContext* context,
                                 const v1::KillRequest* request,
                                 v1::KillResponse* response) override;
  grpc::ServerUnaryReactor* Remove(grpc::CallbackServerContext* context,
                                   const v1::RemoveRequest* request,
                                   v1::RemoveResponse* response) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;
  grpc::ServerBidiReactor<v1::ExecRequest, v1::ExecResponse>* Exec(
      grpc::CallbackServerContext* context) override;
  grpc::ServerBidiReactor<v1::AttachRequest, v1::AttachResponse>* Attach(
      grpc::CallbackServerContext* context) override;
  grpc::ServerReadReactor<v1::CopyToRequest>* CopyTo(grpc::CallbackServerContext* context,
                                                     v1::CopyToResponse* response) override;
  grpc::ServerWriteReactor<v1::CopyFromResponse>* CopyFrom(
      grpc::CallbackServerContext* context, const v1::CopyFromRequest* request) override;

 private:
  Runtime* runtime_;
  ThreadPool* pool_;
};

}  // namespace quilt
