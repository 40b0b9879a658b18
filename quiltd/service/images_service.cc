#include "quiltd/service/images_service.h"

#include <sys/utsname.h>

#include "common/status_macros.h"
#include "quiltd/service/events_reactor.h"
#include "quiltd/service/import_reactor.h"
#include "quiltd/service/proto_conversion.h"
#include "quiltd/service/request_validation.h"
#include "quiltd/service/unary.h"

namespace quilt {

ImagesService::ImagesService(Runtime* runtime, ThreadPool* pool) : runtime_(runtime), pool_(pool) {
  service_.Serve("Import", this, &ImagesService::Import);
  service_.Serve("ImportWithProgress", this, &ImagesService::ImportWithProgress);
  service_.Serve("ListImages", this, &ImagesService::ListImages);
  service_.Serve("RemoveImage", this, &ImagesService::RemoveImage);
  service_.Serve("PruneImages", this, &ImagesService::PruneImages);
}

SystemService::SystemService(Runtime* runtime) : runtime_(runtime) {
  service_.Serve("Version", this, &SystemService::Version);
  service_.Serve("Events", this, &SystemService::Events);
}

grpc::ServerUnaryReactor* ImagesService::Import(grpc::CallbackServerContext* context,
                                                const v1::ImportRequest* request,
                                                v1::ImportResponse* response) {
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(*response, ImportFromRequest(runtime_, *request, /*meter=*/nullptr));
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<v1::ImportWithProgressResponse>* ImagesService::ImportWithProgress(
    grpc::CallbackServerContext*, const v1::ImportRequest* request) {
  return new ImportReactor(runtime_, pool_, *request);
}

grpc::ServerUnaryReactor* ImagesService::ListImages(grpc::CallbackServerContext* context,
                                                    const v1::ListImagesRequest*,
                                                    v1::ListImagesResponse* response) {
  for (const ImageRecord& image : runtime_->ListImages()) *response->add_images() = ToProto(image);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* ImagesService::RemoveImage(grpc::CallbackServerContext* context,
                                                     const v1::RemoveImageRequest* request,
                                                     v1::RemoveImageResponse* response) {
  if (absl::Status valid = ValidateRef(request->ref()); !valid.ok()) {
    return FinishNow(context, valid);
  }
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(std::string digest,
                           runtime_->RemoveImage(request->ref(), request->force()));
    response->set_digest(digest);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ImagesService::PruneImages(grpc::CallbackServerContext* context,
                                                     const v1::PruneImagesRequest* request,
                                                     v1::PruneImagesResponse* response) {
  return FinishOnPool(context, pool_, [this, request, response]() -> absl::Status {
    QUILT_ASSIGN_OR_RETURN(std::vector<ImageRecord> removed, runtime_->PruneImages(request->all()));
    int64_t reclaimed = 0;
    for (const ImageRecord& image : removed) {
      response->add_digests(image.digest);
      reclaimed += image.size_bytes;
    }
    response->set_reclaimed_bytes(reclaimed);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SystemService::Version(grpc::CallbackServerContext* context,
                                                 const v1::VersionRequest*,
                                                 v1::VersionResponse* response) {
  response->set_version(QUILT_VERSION);
  response->set_cgroup_mode(runtime_->CgroupModeName());
  struct utsname uts;
  if (uname(&uts) == 0) response->set_kernel(uts.release);
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::Event>* SystemService::Events(grpc::CallbackServerContext*,
                                                           const v1::EventsRequest* request) {
  return new EventsReactor(&runtime_->events(), *request);
}

}  // namespace quilt
