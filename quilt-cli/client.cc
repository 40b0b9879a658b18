#include "quilt-cli/client.h"

#include <chrono>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/defaults.h"

namespace quilt::cli {
namespace {

void SetDeadline(grpc::ClientContext* context, std::optional<absl::Duration> deadline) {
  if (!deadline.has_value()) return;
  context->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(*deadline));
}

// Runs one unary RPC and converts its failure.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Call(const Client& client, Stub* stub,
                              grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                           Response*),
                              const Request& request, std::optional<absl::Duration> deadline,
                              grpc::ClientContext* context = nullptr) {
  grpc::ClientContext own_context;
  if (context == nullptr) context = &own_context;
  SetDeadline(context, deadline);
  Response response;
  grpc::Status status = (stub->*method)(context, request, &response);
  if (!status.ok()) return client.FailureStatus(status);
  return response;
}

// The end of a gRPC connect error ("...: unix:/x.sock: No such file or directory").
absl::string_view ConnectReason(absl::string_view message) {
  size_t colon = message.rfind(": ");
  return colon == absl::string_view::npos ? message : message.substr(colon + 2);
}

// One channel per socket for the whole process, never destroyed: destroying the last one
// shuts gRPC down, which joins its threads with sleeps (3 ms per run measured). quilt-cli
// ends with _exit instead (main.cc).
std::shared_ptr<grpc::Channel> ProcessChannel(const std::string& socket_path) {
  static auto* channels = new absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>>();
  std::shared_ptr<grpc::Channel>& channel = (*channels)[socket_path];
  if (channel == nullptr) {
    channel = grpc::CreateChannel(UnixTarget(socket_path), grpc::InsecureChannelCredentials());
  }
  return channel;
}

}  // namespace

Client::Client(std::string socket_path)
    : socket_path_(std::move(socket_path)),
      channel_(ProcessChannel(socket_path_)),
      containers_(quilt::v1::Containers::NewStub(channel_)),
      images_(quilt::v1::Images::NewStub(channel_)),
      system_(quilt::v1::System::NewStub(channel_)) {}

absl::Status Client::FailureStatus(const grpc::Status& status) const {
  // error_message() returns a copy: keep it alive while views into it are used.
  const std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return absl::UnavailableError(absl::StrCat("cannot connect to quiltd at ", socket_path_, ": ",
                                               ConnectReason(message), " (is quiltd running?)"));
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::DeadlineExceededError(
        absl::StrCat("quiltd at ", socket_path_, " did not answer in time"));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), message);
}

absl::StatusOr<quilt::v1::CreateResponse> Client::Create(const quilt::v1::CreateRequest& request,
                                                         std::optional<absl::Duration> deadline) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Create, request, deadline);
}

absl::StatusOr<quilt::v1::StartResponse> Client::Start(const quilt::v1::StartRequest& request) {
  // Start returns only once setup commands ran, which may take any time.
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Start, request, std::nullopt);
}

absl::StatusOr<quilt::v1::GetResponse> Client::Get(const quilt::v1::GetRequest& request) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Get, request, kShortDeadline);
}

absl::StatusOr<quilt::v1::ListResponse> Client::List(const quilt::v1::ListRequest& request) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::List, request,
              kShortDeadline);
}

absl::StatusOr<quilt::v1::WaitResponse> Client::Wait(const quilt::v1::WaitRequest& request,
                                                     grpc::ClientContext* context) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Wait, request, std::nullopt,
              context);
}

absl::StatusOr<quilt::v1::StopResponse> Client::Stop(const quilt::v1::StopRequest& request,
                                                     grpc::ClientContext* context) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Stop, request, std::nullopt,
              context);
}

absl::StatusOr<quilt::v1::KillResponse> Client::Kill(const quilt::v1::KillRequest& request) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Kill, request,
              kShortDeadline);
}

absl::StatusOr<quilt::v1::RemoveResponse> Client::Remove(const quilt::v1::RemoveRequest& request) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Remove, request,
              kDiskDeadline);
}

absl::StatusOr<quilt::v1::StatsResponse> Client::Stats(const quilt::v1::StatsRequest& request) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Stats, request,
              kShortDeadline);
}

absl::StatusOr<quilt::v1::TopResponse> Client::Top(const quilt::v1::TopRequest& request) {
  return Call(*this, containers_.get(), &quilt::v1::Containers::Stub::Top, request, kShortDeadline);
}

absl::StatusOr<quilt::v1::ImportResponse> Client::Import(const quilt::v1::ImportRequest& request) {
  // Unpacking a large tarball takes as long as it takes.
  return Call(*this, images_.get(), &quilt::v1::Images::Stub::Import, request, std::nullopt);
}

absl::StatusOr<quilt::v1::ListImagesResponse> Client::ListImages() {
  return Call(*this, images_.get(), &quilt::v1::Images::Stub::ListImages,
              quilt::v1::ListImagesRequest(), kShortDeadline);
}

absl::StatusOr<quilt::v1::RemoveImageResponse> Client::RemoveImage(
    const quilt::v1::RemoveImageRequest& request) {
  return Call(*this, images_.get(), &quilt::v1::Images::Stub::RemoveImage, request, kDiskDeadline);
}

absl::StatusOr<quilt::v1::PruneImagesResponse> Client::PruneImages(
    const quilt::v1::PruneImagesRequest& request) {
  // Each removal deletes a tree; many images take a while.
  return Call(*this, images_.get(), &quilt::v1::Images::Stub::PruneImages, request, std::nullopt);
}

absl::StatusOr<quilt::v1::VersionResponse> Client::Version() {
  return Call(*this, system_.get(), &quilt::v1::System::Stub::Version, quilt::v1::VersionRequest(),
              kShortDeadline);
}

std::unique_ptr<grpc::ClientReader<quilt::v1::LogsResponse>> Client::Logs(
    grpc::ClientContext* context, const quilt::v1::LogsRequest& request) {
  return containers_->Logs(context, request);
}

std::unique_ptr<grpc::ClientReaderWriter<quilt::v1::ExecRequest, quilt::v1::ExecResponse>>
Client::Exec(grpc::ClientContext* context) {
  return containers_->Exec(context);
}

std::unique_ptr<grpc::ClientReaderWriter<quilt::v1::AttachRequest, quilt::v1::AttachResponse>>
Client::Attach(grpc::ClientContext* context) {
  return containers_->Attach(context);
}

std::unique_ptr<grpc::ClientReader<quilt::v1::Event>> Client::Events(
    grpc::ClientContext* context, const quilt::v1::EventsRequest& request) {
  return system_->Events(context, request);
}

std::unique_ptr<grpc::ClientWriter<quilt::v1::CopyToRequest>> Client::CopyTo(
    grpc::ClientContext* context, quilt::v1::CopyToResponse* response) {
  return containers_->CopyTo(context, response);
}

std::unique_ptr<grpc::ClientReader<quilt::v1::CopyFromResponse>> Client::CopyFrom(
    grpc::ClientContext* context, const quilt::v1::CopyFromRequest& request) {
  return containers_->CopyFrom(context, request);
}

std::unique_ptr<grpc::ClientReader<quilt::v1::ImportWithProgressResponse>>
Client::ImportWithProgress(grpc::ClientContext* context, const quilt::v1::ImportRequest& request) {
  return images_->ImportWithProgress(context, request);
}

}  // namespace quilt::cli
