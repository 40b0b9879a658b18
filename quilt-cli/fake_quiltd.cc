#include "quilt-cli/fake_quiltd.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/time_util.h"

namespace quilt::cli {
namespace {

using google::protobuf::util::TimeUtil;

quilt::v1::LogEntry Entry(quilt::v1::LogStream stream, absl::string_view data, bool setup) {
  quilt::v1::LogEntry entry;
  *entry.mutable_time() = TimeUtil::GetCurrentTime();
  entry.set_stream(stream);
  entry.set_setup(setup);
  entry.set_data(std::string(data));
  return entry;
}

bool Is(const quilt::v1::Container& container, absl::string_view word) {
  return container.spec().command_size() > 0 && container.spec().command(0) == word;
}

}  // namespace

FakeQuiltd::FakeQuiltd(const std::string& socket_path) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(static_cast<quilt::v1::Containers::Service*>(this));
  builder.RegisterService(static_cast<quilt::v1::Images::Service*>(this));
  builder.RegisterService(static_cast<quilt::v1::System::Service*>(this));
  server_ = builder.BuildAndStart();
}

FakeQuiltd::~FakeQuiltd() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

quilt::v1::CreateRequest FakeQuiltd::last_create() const {
  absl::MutexLock lock(&mu_);
  return last_create_;
}

std::vector<std::string> FakeQuiltd::stopped() const {
  absl::MutexLock lock(&mu_);
  return stopped_;
}

std::vector<std::string> FakeQuiltd::removed() const {
  absl::MutexLock lock(&mu_);
  return removed_;
}

std::vector<std::string> FakeQuiltd::imported() const {
  absl::MutexLock lock(&mu_);
  return imported_;
}

bool FakeQuiltd::WaitForFollower(double seconds) {
  absl::MutexLock lock(&mu_);
  auto has_follower = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return followers_ > 0; };
  return mu_.AwaitWithTimeout(absl::Condition(&has_follower), absl::Seconds(seconds));
}

quilt::v1::Container* FakeQuiltd::Find(const std::string& ref) {
  if (ref.empty()) return nullptr;
  for (auto& [id, container] : containers_) {
    if (absl::StartsWith(id, ref) || container.name() == ref) return &container;
  }
  return nullptr;
}

void FakeQuiltd::Run(quilt::v1::Container* container) {
  *container->mutable_started_at() = TimeUtil::GetCurrentTime();
  if (Is(*container, "fail-setup")) {
    container->set_state(quilt::v1::CONTAINER_STATE_FAILED);
    container->set_reason("SetupFailed");
    container->set_message("setup command 1 (false) exited with status 1");
    *container->mutable_finished_at() = TimeUtil::GetCurrentTime();
    return;
  }
  container->set_state(quilt::v1::CONTAINER_STATE_RUNNING);
  container->set_pid(4242);
}

grpc::Status FakeQuiltd::Create(grpc::ServerContext*, const quilt::v1::CreateRequest* request,
                                quilt::v1::CreateResponse* response) {
  absl::MutexLock lock(&mu_);
  last_create_ = *request;
  std::string id = absl::StrFormat("c%02d", ++next_id_) + std::string(61, 'a');
  quilt::v1::Container& container = containers_[id];
  container.set_id(id);
  container.set_name(request->spec().name());
  container.set_image_digest("sha256:" + std::string(64, 'b'));
  *container.mutable_spec() = request->spec();
  container.set_state(quilt::v1::CONTAINER_STATE_CREATED);
  *container.mutable_created_at() = TimeUtil::GetCurrentTime();
  if (request->start()) Run(&container);
  *response->mutable_container() = container;
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Start(grpc::ServerContext*, const quilt::v1::StartRequest* request,
                               quilt::v1::StartResponse* response) {
  absl::MutexLock lock(&mu_);
  quilt::v1::Container* container = Find(request->ref());
  if (container == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  Run(container);
  *response->mutable_container() = *container;
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Get(grpc::ServerContext*, const quilt::v1::GetRequest* request,
                             quilt::v1::GetResponse* response) {
  absl::MutexLock lock(&mu_);
  quilt::v1::Container* container = Find(request->ref());
  if (container == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  *response->mutable_container() = *container;
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::List(grpc::ServerContext*, const quilt::v1::ListRequest* request,
                              quilt::v1::ListResponse* response) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, container] : containers_) {
    if (request->all() || container.state() == quilt::v1::CONTAINER_STATE_RUNNING) {
      *response->add_containers() = container;
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Logs(grpc::ServerContext* context, const quilt::v1::LogsRequest* request,
                              grpc::ServerWriter<quilt::v1::LogsResponse>* writer) {
  absl::MutexLock lock(&mu_);
  quilt::v1::Container* container = Find(request->ref());
  if (container == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  quilt::v1::LogsResponse response;
  if (Is(*container, "fail-setup")) {
    *response.add_entries() = Entry(quilt::v1::LOG_STREAM_STDERR, "setup: boom\n", true);
  } else if (container->state() != quilt::v1::CONTAINER_STATE_CREATED) {
    *response.add_entries() = Entry(quilt::v1::LOG_STREAM_STDOUT, kStdoutBytes, false);
    *response.add_entries() = Entry(quilt::v1::LOG_STREAM_STDERR, kStderrBytes, false);
  }
  writer->Write(response);
  if (!request->follow() || !Is(*container, "hang")) return grpc::Status::OK;
  ++followers_;
  // A followed "hang" container streams until it is stopped, removed, or the client goes
  // away. CondVar::WaitWithTimeout releases mu_ while it sleeps, so Stop, Remove and the
  // test can run; the container is looked up again after each wait because Remove frees it.
  const std::string ref = request->ref();
  while (!context->IsCancelled()) {
    container = Find(ref);
    if (container == nullptr || container->state() != quilt::v1::CONTAINER_STATE_RUNNING) break;
    changed_.WaitWithTimeout(&mu_, absl::Milliseconds(10));
  }
  --followers_;
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Wait(grpc::ServerContext*, const quilt::v1::WaitRequest* request,
                              quilt::v1::WaitResponse* response) {
  absl::MutexLock lock(&mu_);
  quilt::v1::Container* container = Find(request->ref());
  if (container == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  if (container->state() == quilt::v1::CONTAINER_STATE_RUNNING) {
    const auto& command = container->spec().command();
    container->set_state(quilt::v1::CONTAINER_STATE_EXITED);
    container->set_reason("Exited");
    container->set_exit_code(
        Is(*container, "exit") && command.size() > 1 ? std::atoi(command[1].c_str()) : 0);
    container->set_pid(0);
    *container->mutable_finished_at() = TimeUtil::GetCurrentTime();
  }
  *response->mutable_container() = *container;
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Stop(grpc::ServerContext*, const quilt::v1::StopRequest* request,
                              quilt::v1::StopResponse* response) {
  absl::MutexLock lock(&mu_);
  quilt::v1::Container* container = Find(request->ref());
  if (container == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  stopped_.push_back(
      absl::StrCat(request->ref(), " signal=", request->signal(),
                   " timeout=", request->has_timeout_seconds() ? request->timeout_seconds() : -1));
  int signal = request->signal() == 0 ? 15 : request->signal();
  container->set_state(quilt::v1::CONTAINER_STATE_EXITED);
  container->set_reason("Killed");
  container->set_exit_signal(signal);
  container->set_exit_code(128 + signal);
  *response->mutable_container() = *container;
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Kill(grpc::ServerContext*, const quilt::v1::KillRequest* request,
                              quilt::v1::KillResponse*) {
  absl::MutexLock lock(&mu_);
  if (Find(request->ref()) == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  stopped_.push_back(absl::StrCat(request->ref(), " kill=", request->signal()));
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Remove(grpc::ServerContext*, const quilt::v1::RemoveRequest* request,
                                quilt::v1::RemoveResponse* response) {
  absl::MutexLock lock(&mu_);
  quilt::v1::Container* container = Find(request->ref());
  if (container == nullptr) {
    return {grpc::StatusCode::NOT_FOUND, "no such container: " + request->ref()};
  }
  removed_.push_back(absl::StrCat(request->ref(), request->force() ? " force" : ""));
  response->set_id(container->id());
  containers_.erase(container->id());
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Import(grpc::ServerContext*, const quilt::v1::ImportRequest* request,
                                quilt::v1::ImportResponse* response) {
  absl::MutexLock lock(&mu_);
  imported_.push_back(request->path());
  quilt::v1::Image* image = response->mutable_image();
  image->set_digest("sha256:" + std::string(64, 'd'));
  if (!request->name().empty()) image->add_names(request->name());
  image->set_size_bytes(4'100'000);
  *image->mutable_created_at() = TimeUtil::GetCurrentTime();
  response->set_unpacked(true);
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::ImportWithProgress(
    grpc::ServerContext* context, const quilt::v1::ImportRequest* request,
    grpc::ServerWriter<quilt::v1::ImportWithProgressResponse>* writer) {
  if (absl::EndsWith(request->path(), "old.tar")) {
    return {grpc::StatusCode::UNIMPLEMENTED, "unknown method ImportWithProgress"};
  }
  quilt::v1::ImportWithProgressResponse message;
  quilt::v1::ImportProgress* progress = message.mutable_progress();
  progress->set_phase(quilt::v1::IMPORT_PHASE_UNPACKING);
  progress->set_bytes_total(4'000'000);
  writer->Write(message);
  if (absl::EndsWith(request->path(), "bad.tar")) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "import " + request->path() + ": not an archive"};
  }
  progress->set_bytes_done(4'000'000);
  writer->Write(message);
  quilt::v1::ImportWithProgressResponse last;
  grpc::Status status = Import(context, request, last.mutable_result());
  if (status.ok()) writer->Write(last);
  return status;
}

grpc::Status FakeQuiltd::ListImages(grpc::ServerContext*, const quilt::v1::ListImagesRequest*,
                                    quilt::v1::ListImagesResponse* response) {
  quilt::v1::Image* image = response->add_images();
  image->set_digest("sha256:0123456789abcdef" + std::string(48, 'e'));
  image->add_names("default");
  image->add_names("alpine");
  image->set_size_bytes(67'100'000);
  *image->mutable_created_at() =
      TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(absl::Now()) - 7200);
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::RemoveImage(grpc::ServerContext*,
                                     const quilt::v1::RemoveImageRequest* request,
                                     quilt::v1::RemoveImageResponse* response) {
  if (request->ref() != "alpine") {
    return {grpc::StatusCode::NOT_FOUND, "no such image: " + request->ref()};
  }
  response->set_digest("sha256:0123456789abcdef" + std::string(48, 'e'));
  return grpc::Status::OK;
}

grpc::Status FakeQuiltd::Version(grpc::ServerContext*, const quilt::v1::VersionRequest*,
                                 quilt::v1::VersionResponse* response) {
  response->set_version("9.9.9");
  response->set_cgroup_mode("hybrid");
  response->set_kernel("6.1.0-test");
  return grpc::Status::OK;
}

}  // namespace quilt::cli
