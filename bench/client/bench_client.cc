// quilt-bench-client --socket PATH: times API calls for bench/run over one gRPC channel that
// stays open, as a service calling quiltd holds it. One request per stdin line, one reply per
// stdout line; arguments are separated by single spaces (the bench passes none with spaces):
//   exec REF ARG...  ->  "<ns> <exit code>"  Exec of ARG... in running container REF: from
//                        sending the start until the stream's end
//   run ARG...       ->  "<ns> <exit code>"  Create(start) of the default image until Wait
//                        returns; the Remove after it is not timed
// A failed call replies "error <message>" and the client goes on.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "quilt-cli/client.h"

namespace {

using quilt::cli::Client;

struct Timed {
  int64_t ns = 0;
  int exit_code = 0;
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<Timed> TimeExec(Client& client, const std::string& ref,
                               const std::vector<std::string>& argv) {
  quilt::v1::ExecRequest request;
  request.mutable_start()->set_ref(ref);
  request.mutable_start()->mutable_command()->Add(argv.begin(), argv.end());
  int64_t start = NowNs();
  grpc::ClientContext context;
  auto stream = client.Exec(&context);
  stream->Write(request);
  stream->WritesDone();
  quilt::v1::ExecResponse response;
  int exit_code = -1;
  while (stream->Read(&response)) {
    if (response.has_exit()) exit_code = response.exit().exit_code();
  }
  grpc::Status status = stream->Finish();
  int64_t elapsed = NowNs() - start;
  if (!status.ok()) return client.FailureStatus(status);
  return Timed{elapsed, exit_code};
}

absl::StatusOr<Timed> TimeRun(Client& client, const std::vector<std::string>& argv) {
  quilt::v1::CreateRequest create;
  create.set_start(true);
  create.mutable_spec()->mutable_command()->Add(argv.begin(), argv.end());
  int64_t start = NowNs();
  absl::StatusOr<quilt::v1::CreateResponse> created = client.Create(create, std::nullopt);
  if (!created.ok()) return created.status();
  quilt::v1::WaitRequest wait;
  wait.set_ref(created->container().id());
  absl::StatusOr<quilt::v1::WaitResponse> exited = client.Wait(wait);
  int64_t elapsed = NowNs() - start;
  if (!exited.ok()) return exited.status();
  quilt::v1::RemoveRequest remove;
  remove.set_ref(created->container().id());
  absl::StatusOr<quilt::v1::RemoveResponse> removed = client.Remove(remove);
  if (!removed.ok()) return removed.status();
  return Timed{elapsed, exited->container().exit_code()};
}

absl::StatusOr<Timed> Serve(Client& client, const std::vector<std::string>& words) {
  if (words.size() >= 3 && words[0] == "exec") {
    return TimeExec(client, words[1], {words.begin() + 2, words.end()});
  }
  if (words.size() >= 2 && words[0] == "run") {
    return TimeRun(client, {words.begin() + 1, words.end()});
  }
  return absl::InvalidArgumentError("expected `exec REF ARG...` or `run ARG...`");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) != "--socket") {
    std::cerr << "usage: quilt-bench-client --socket PATH\n";
    return 2;
  }
  Client client(argv[2]);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    absl::StatusOr<Timed> timed = Serve(client, words);
    if (timed.ok()) {
      std::cout << timed->ns << " " << timed->exit_code << std::endl;
    } else {
      std::cout << "error " << timed.status().message() << std::endl;
    }
  }
  return 0;
}
