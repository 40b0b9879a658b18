// quilt.v1.Images and quilt.v1.System over the callback API, through ParsedRequestService
// (see ContainersService).
#pragma once

#include "common/thread_pool.h"
#include "quilt/v1/quilt.grpc.pb.h"
#include "quiltd/runtime/runtime.h"
#include "quiltd/service/parsed_request.h"

namespace quilt {

class ImagesService final {
 public:
  ImagesService(Runtime* runtime, ThreadPool* pool);
  ImagesService(const ImagesService&) = delete;
  ImagesService& operator=(const ImagesService&) = delete;

  // What to register with the grpc::ServerBuilder.
  grpc::Service* grpc_service() { return &service_; }

 private:
  grpc::ServerUnaryReactor* Import(grpc::CallbackServerContext* context,
                                   const v1::ImportRequest* request, v1::ImportResponse* response);
  grpc::ServerWriteReactor<v1::ImportWithProgressResponse>* ImportWithProgress(
      grpc::CallbackServerContext* context, const v1::ImportRequest* request);
  grpc::ServerUnaryReactor* ListImages(grpc::CallbackServerContext* context,
                                       const v1::ListImagesRequest* request,
                                       v1::ListImagesResponse* response);
  grpc::ServerUnaryReactor* RemoveImage(grpc::CallbackServerContext* context,
                                        const v1::RemoveImageRequest* request,
                                        v1::RemoveImageResponse* response);
  grpc::ServerUnaryReactor* PruneImages(grpc::CallbackServerContext* context,
                                        const v1::PruneImagesRequest* request,
                                        v1::PruneImagesResponse* response);

  Runtime* runtime_;
  ThreadPool* pool_;
  ParsedRequestService<v1::Images> service_;
};

class SystemService final {
 public:
  explicit SystemService(Runtime* runtime);
  SystemService(const SystemService&) = delete;
  SystemService& operator=(const SystemService&) = delete;

  // What to register with the grpc::ServerBuilder.
  grpc::Service* grpc_service() { return &service_; }

 private:
  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* context,
                                    const v1::VersionRequest* request,
                                    v1::VersionResponse* response);
  grpc::ServerWriteReactor<v1::Event>* Events(grpc::CallbackServerContext* context,
                                              const v1::EventsRequest* request);

  Runtime* runtime_;
  ParsedRequestService<v1::System> service_;
};

}  // namespace quilt
