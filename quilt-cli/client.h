// The connection from quilt-cli to quiltd: stubs for the three services over a Unix socket, with
// gRPC failures turned into the one-line errors the CLI prints.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "quilt/v1/quilt.grpc.pb.h"

namespace quilt::cli {

// Deadline for calls that should answer at once (Get, List, Kill, Version...).
inline constexpr absl::Duration kShortDeadline = absl::Seconds(5);
// Deadline for calls that work through files on disk (Remove, RemoveImage, a log history).
inline constexpr absl::Duration kDiskDeadline = absl::Seconds(60);

class Client {
 public:
  // A client of the daemon listening on the Unix socket `socket_path`. Connects lazily.
  explicit Client(std::string socket_path);

  // Each call returns the response, or the failure as FailureStatus describes. `deadline`
  // unset means no deadline (calls that may legitimately block: Wait, Stop, Create+start).
  // A `context` given by the caller lets another thread cancel the call.
  absl::StatusOr<quilt::v1::CreateResponse> Create(const quilt::v1::CreateRequest& request,
                                                   std::optional<absl::Duration> deadline);
  absl::StatusOr<quilt::v1::StartResponse> Start(const quilt::v1::StartRequest& request);
  absl::StatusOr<quilt::v1::GetResponse> Get(const quilt::v1::GetRequest& request);
  absl::StatusOr<quilt::v1::ListResponse> List(const quilt::v1::ListRequest& request);
  absl::StatusOr<quilt::v1::WaitResponse> Wait(const quilt::v1::WaitRequest& request,
                                               grpc::ClientContext* context = nullptr);
  absl::StatusOr<quilt::v1::StopResponse> Stop(const quilt::v1::StopRequest& request,
                                               grpc::ClientContext* context = nullptr);
  absl::StatusOr<quilt::v1::KillResponse> Kill(const quilt::v1::KillRequest& request);
  absl::StatusOr<quilt::v1::RemoveResponse> Remove(const quilt::v1::RemoveRequest& request);
  absl::StatusOr<quilt::v1::StatsResponse> Stats(const quilt::v1::StatsRequest& request);
  absl::StatusOr<quilt::v1::TopResponse> Top(const quilt::v1::TopRequest& request);
  absl::StatusOr<quilt::v1::ImportResponse> Import(const quilt::v1::ImportRequest& request);
  absl::StatusOr<quilt::v1::ListImagesResponse> ListImages();
  absl::StatusOr<quilt::v1::RemoveImageResponse> RemoveImage(
      const quilt::v1::RemoveImageRequest& request);
  absl::StatusOr<quilt::v1::PruneImagesResponse> PruneImages(
      const quilt::v1::PruneImagesRequest& request);
  absl::StatusOr<quilt::v1::VersionResponse> Version();

  // Opens a Logs stream on `context` (which must outlive the reader).
  std::unique_ptr<grpc::ClientReader<quilt::v1::LogsResponse>> Logs(
      grpc::ClientContext* context, const quilt::v1::LogsRequest& request);

  // Open an Exec or Attach stream on `context` (which must outlive the stream).
  std::unique_ptr<grpc::ClientReaderWriter<quilt::v1::ExecRequest, quilt::v1::ExecResponse>> Exec(
      grpc::ClientContext* context);
  std::unique_ptr<grpc::ClientReaderWriter<quilt::v1::AttachRequest, quilt::v1::AttachResponse>>
  Attach(grpc::ClientContext* context);

  // Opens an Events stream on `context` (which must outlive the reader).
  std::unique_ptr<grpc::ClientReader<quilt::v1::Event>> Events(
      grpc::ClientContext* context, const quilt::v1::EventsRequest& request);

  // Opens a CopyTo stream on `context`; the call's answer goes into `response`.
  std::unique_ptr<grpc::ClientWriter<quilt::v1::CopyToRequest>> CopyTo(
      grpc::ClientContext* context, quilt::v1::CopyToResponse* response);

  // Opens an ImportWithProgress stream on `context` (which must outlive the reader).
  std::unique_ptr<grpc::ClientReader<quilt::v1::ImportWithProgressResponse>> ImportWithProgress(
      grpc::ClientContext* context, const quilt::v1::ImportRequest& request);

  // Opens a CopyFrom stream on `context` (which must outlive the reader).
  std::unique_ptr<grpc::ClientReader<quilt::v1::CopyFromResponse>> CopyFrom(
      grpc::ClientContext* context, const quilt::v1::CopyFromRequest& request);

  // The Status to print for a failed call: an unreachable daemon becomes "cannot connect to
  // quiltd at <socket>: <reason> (is quiltd running?)"; otherwise the server's message with
  // its code mapped to the matching absl code.
  absl::Status FailureStatus(const grpc::Status& status) const;

  const std::string& socket_path() const { return socket_path_; }

 private:
  std::string socket_path_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<quilt::v1::Containers::Stub> containers_;
  std::unique_ptr<quilt::v1::Images::Stub> images_;
  std::unique_ptr<quilt::v1::System::Stub> system_;
};

}  // namespace quilt::cli
