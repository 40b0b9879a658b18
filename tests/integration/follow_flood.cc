// Test helper: opens `count` Logs --follow streams on one container, prints "ready" once
// each has delivered its first message, and holds them until it is killed. The reliability
// suite SIGKILLs it to play a client that vanishes without cancelling its calls.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "quilt/v1/quilt.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: follow_flood SOCKET REF COUNT\n");
    return 2;
  }
  const int count = std::atoi(argv[3]);
  auto channel =
      grpc::CreateChannel(std::string("unix:") + argv[1], grpc::InsecureChannelCredentials());
  auto stub = quilt::v1::Containers::NewStub(channel);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<quilt::v1::LogsResponse>>> readers;
  for (int i = 0; i < count; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    quilt::v1::LogsRequest request;
    request.set_ref(argv[2]);
    request.set_follow(true);
    readers.push_back(stub->Logs(contexts.back().get(), request));
    quilt::v1::LogsResponse response;
    if (!readers.back()->Read(&response)) {
      std::fprintf(stderr, "stream %d ended early: %s\n", i,
                   readers.back()->Finish().error_message().c_str());
      return 1;
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) pause();
}
