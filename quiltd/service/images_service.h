// quilt.v1.Images and quilt.v1.System over the callback API.
#pragma once

#include "common/thread_pool.h"
#include "quilt/v1/quilt.grpc.pb.h"
#include "quiltd/runtime/runtime.h"

namespace quilt {

class ImagesService final : public v1::Images::CallbackService {
 public:
  ImagesService(Runtime* runtime, ThreadPool* pool) : runtime_(runtime), pool_(pool) {}

  grpc::ServerUnaryReactor* Import(grpc::CallbackServerContext* context,
                                   const v1::ImportRequest* request,
                                   v1::ImportResponse* response) override;
  grpc::ServerWriteReactor<v1::ImportWithProgressResponse>* ImportWithProgress(
      grpc::CallbackServerContext* context, const v1::ImportRequest* request) override;
  grpc::ServerUnaryReactor* ListImages(grpc::CallbackServerContext* context,
                                       const v1::ListImagesRequest* request,
                                       v1::ListImagesResponse* response) override;
  grpc::ServerUnaryReactor* RemoveImage(grpc::CallbackServerContext* context,
                                        const v1::RemoveImageRequest* request,
                                        v1::RemoveImageResponse* response) override;
  grpc::ServerUnaryReactor* PruneImages(grpc::CallbackServerContext* context,
                                        const v1::PruneImagesRequest* request,
                                        v1::PruneImagesResponse* response) override;

 private:
  Runtime* runtime_;
  ThreadPool* pool_;
};

class SystemService final : public v1::System::CallbackService {
 public:
  explicit SystemService(Runtime* runtime) : runtime_(runtime) {}

  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* context,
                                    const v1::VersionRequest* request,
                                    v1::VersionResponse* response) override;
  grpc::ServerWriteReactor<v1::Event>* Events(grpc::CallbackServerContext* context,
                                              const v1::EventsRequest* request) override;

 private:
  Runtime* runtime_;
};

}  // namespace quilt
