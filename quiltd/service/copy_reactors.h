// CopyTo and CopyFrom: tar streams between a client and a container's files. Each copy has
// its own thread for the file work (it may take as long as the tree is big, which must not
// hold a gRPC or pool thread), and at most one message in flight between that thread and
// gRPC, so memory per copy is bounded by one chunk whatever the archive's size.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/runtime/runtime.h"
#include "quiltd/service/parsed_request.h"

namespace quilt {

// Reads CopyToRequest messages; the first one's header starts the extraction thread, which
// pulls each message's data as libarchive asks for it and asks gRPC for the next one only
// then. A message that did not parse ends the copy with its status.
class CopyToReactor final : public grpc::ServerReadReactor<ParsedRequest<v1::CopyToRequest>> {
 public:
  CopyToReactor(Runtime* runtime, v1::CopyToResponse* response);

  void OnReadDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void Run(v1::CopyToRequest header);
  // The next non-empty chunk of the archive, or an empty one at its end.
  absl::Status NextChunk(std::string* chunk);

  Runtime* runtime_;
  v1::CopyToResponse* response_;
  ParsedRequest<v1::CopyToRequest> request_;
  std::thread thread_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool has_chunk_ ABSL_GUARDED_BY(mu_) = false;
  std::string chunk_ ABSL_GUARDED_BY(mu_);
  bool end_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status refused_ ABSL_GUARDED_BY(mu_);  // a later message did not parse
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Sends the source's stat, then the tar the walk writes, in chunks of up to 64 KiB.
class CopyFromReactor final : public grpc::ServerWriteReactor<v1::CopyFromResponse> {
 public:
  CopyFromReactor(Runtime* runtime, v1::CopyFromRequest request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  void Run();
  absl::Status Copy();
  // Buffers `bytes`, sending a message whenever a chunk is full.
  absl::Status Buffer(absl::string_view bytes);
  // Writes `response` and waits until gRPC is done with it; CANCELLED once the client left.
  absl::Status Send(v1::CopyFromResponse response);

  Runtime* runtime_;
  const v1::CopyFromRequest request_;
  std::string pending_;
  v1::CopyFromResponse response_;
  std::thread thread_;

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace quilt
