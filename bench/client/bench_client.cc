// quilt-bench-client --socket PATH: times API calls for bench/run over one gRPC channel that
// stays open, as a service calling quiltd holds it. One request per stdin line, one reply per
// stdout line; arguments are separated by single spaces (the bench passes none with spaces):
//   exec REF ARG...  ->  "<ns> <exit code>"  Exec of ARG... in running container REF: from
//                        sending the start until the stream's end
//   run ARG...       ->  "<ns> <exit code>"  Create(start) of the default image until Wait
//                        returns; the Remove after it is not timed
//   churn CLIENTS TOTAL ARG...  ->  "<ns> 0"  wall time of TOTAL containers of ARG...
//                        (Create(start), Wait, Remove each) spread over CLIENTS threads
//                        that share the channel
// A failed call replies "error <message>" and the client goes on.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
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

// Each thread runs its share of `total` containers one after another; the first failure
// of any thread is the answer.
absl::StatusOr<Timed> TimeChurn(Client& client, int clients, int total,
                                const std::vector<std::string>& argv) {
  absl::Mutex mu;
  absl::Status first_failure;
  int64_t start = NowNs();
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    int count = total / clients + (i < total % clients ? 1 : 0);
    threads.emplace_back([&, count] {
      for (int n = 0; n < count; ++n) {
        absl::StatusOr<Timed> one = TimeRun(client, argv);
        if (one.ok() && one->exit_code == 0) continue;
        absl::MutexLock lock(&mu);
        if (first_failure.ok()) {
          first_failure = one.ok() ? absl::InternalError(absl::StrCat(
                                         "a container exited with code ", one->exit_code))
                                   : one.status();
        }
        return;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int64_t elapsed = NowNs() - start;
  if (!first_failure.ok()) return first_failure;
  return Timed{elapsed, 0};
}

absl::StatusOr<Timed> Serve(Client& client, const std::vector<std::string>& words) {
  if (words.size() >= 3 && words[0] == "exec") {
    return TimeExec(client, words[1], {words.begin() + 2, words.end()});
  }
  if (words.size() >= 2 && words[0] == "run") {
    return TimeRun(client, {words.begin() + 1, words.end()});
  }
  int clients = 0;
  int total = 0;
  if (words.size() >= 4 && words[0] == "churn" && absl::SimpleAtoi(words[1], &clients) &&
      absl::SimpleAtoi(words[2], &total) && clients > 0 && total > 0) {
    return TimeChurn(client, clients, total, {words.begin() + 3, words.end()});
  }
  return absl::InvalidArgumentError(
      "expected `exec REF ARG...`, `run ARG...` or `churn CLIENTS TOTAL ARG...`");
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
