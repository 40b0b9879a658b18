// An in-process stand-in for quiltd, for quilt-cli's end-to-end tests: canned answers on a Unix
// socket, and a record of what was asked.
//
// Its "containers" do not run anything. Command {"exit", "N"} exits with N; {"hang"} runs until
// stopped; {"fail-setup"} fails in setup. Every started container writes the same log:
// kStdoutBytes on stdout and kStderrBytes on stderr.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "quilt/v1/quilt.grpc.pb.h"

namespace quilt::cli {

inline constexpr char kStdoutBytes[] = "out line 1\nout \"quoted\" 2\n";
inline constexpr char kStderrBytes[] = "err line\n";

class FakeQuiltd final : public quilt::v1::Containers::Service,
                         public quilt::v1::Images::Service,
                         public quilt::v1::System::Service {
 public:
  // Serves on the Unix socket `socket_path`.
  explicit FakeQuiltd(const std::string& socket_path);
  ~FakeQuiltd() override;

  // The last CreateRequest received.
  quilt::v1::CreateRequest last_create() const;
  // Refs passed to Stop, Remove and Import paths, in order.
  std::vector<std::string> stopped() const;
  std::vector<std::string> removed() const;
  std::vector<std::string> imported() const;
  // Blocks until a follow Logs stream is open; false after `seconds`.
  bool WaitForFollower(double seconds);

  grpc::Status Create(grpc::ServerContext* context, const quilt::v1::CreateRequest* request,
                      quilt::v1::CreateResponse* response) override;
  grpc::Status Start(grpc::ServerContext* context, const quilt::v1::StartRequest* request,
                     quilt::v1::StartResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const quilt::v1::GetRequest* request,
                   quilt::v1::GetResponse* response) override;
  grpc::Status List(grpc::ServerContext* context, const quilt::v1::ListRequest* request,
                    quilt::v1::ListResponse* response) override;
  grpc::Status Logs(grpc::ServerContext* context, const quilt::v1::LogsRequest* request,
                    grpc::ServerWriter<quilt::v1::LogsResponse>* writer) override;
  grpc::Status Wait(grpc::ServerContext* context, const quilt::v1::WaitRequest* request,
                    quilt::v1::WaitResponse* response) override;
  grpc::Status Stop(grpc::ServerContext* context, const quilt::v1::StopRequest* request,
                    quilt::v1::StopResponse* response) override;
  grpc::Status Kill(grpc::ServerContext* context, const quilt::v1::KillRequest* request,
                    quilt::v1::KillResponse* response) override;
  grpc::Status Remove(grpc::ServerContext* context, const quilt::v1::RemoveRequest* request,
                      quilt::v1::RemoveResponse* response) override;
  grpc::Status Import(grpc::ServerContext* context, const quilt::v1::ImportRequest* request,
                      quilt::v1::ImportResponse* response) override;
  // Sends two progress messages, then the result Import gives. A path ending in "old.tar"
  // answers UNIMPLEMENTED (a daemon from before the call); one ending in "bad.tar" fails with
  // INVALID_ARGUMENT after the first progress message.
  grpc::Status ImportWithProgress(
      grpc::ServerContext* context, const quilt::v1::ImportRequest* request,
      grpc::ServerWriter<quilt::v1::ImportWithProgressResponse>* writer) override;
  grpc::Status ListImages(grpc::ServerContext* context, const quilt::v1::ListImagesRequest* request,
                          quilt::v1::ListImagesResponse* response) override;
  grpc::Status RemoveImage(grpc::ServerContext* context,
                           const quilt::v1::RemoveImageRequest* request,
                           quilt::v1::RemoveImageResponse* response) override;
  grpc::Status Version(grpc::ServerContext* context, const quilt::v1::VersionRequest* request,
                       quilt::v1::VersionResponse* response) override;

 private:
  // The container `ref` names (id prefix or name), or nullptr.
  quilt::v1::Container* Find(const std::string& ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks a started container as exited (or failed), as its command says.
  void Run(quilt::v1::Container* container) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::CondVar changed_;
  std::map<std::string, quilt::v1::Container> containers_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 0;
  quilt::v1::CreateRequest last_create_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> stopped_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> removed_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> imported_ ABSL_GUARDED_BY(mu_);
  int followers_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace quilt::cli
