#include "quiltd/service/parsed_request.h"

#include <google/protobuf/descriptor.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "quiltd/service/invalid_utf8_field.h"

namespace quilt {

absl::Status ParseRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* message) {
  absl::Cleanup clear = [buffer] { buffer->Clear(); };
  {
    // What gRPC's own SerializationTraits do: the valid request costs nothing more.
    grpc::ProtoBufferReader reader(buffer);
    if (!reader.status().ok()) return absl::InvalidArgumentError("request: no message to read");
    if (message->ParseFromZeroCopyStream(&reader)) return absl::OkStatus();
  }
  message->Clear();
  grpc::Slice bytes;
  if (buffer->DumpToSingleSlice(&bytes).ok()) {
    const absl::string_view wire(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
    if (std::optional<std::string> field = FindInvalidUtf8Field(*message->GetDescriptor(), wire)) {
      return absl::InvalidArgumentError(absl::StrCat(*field, ": not valid UTF-8"));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("request: not a valid ", message->GetDescriptor()->full_name(), " message"));
}

int GeneratedMethodIndex(absl::string_view service, absl::string_view method,
                         const google::protobuf::Descriptor* request,
                         const google::protobuf::Descriptor* response, bool client_streaming,
                         bool server_streaming) {
  const google::protobuf::MethodDescriptor* found =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
          absl::StrCat(service, ".", method));
  if (found == nullptr || found->input_type() != request || found->output_type() != response ||
      found->client_streaming() != client_streaming ||
      found->server_streaming() != server_streaming) {
    QUILT_LOG(ERROR) << "no method " << service << "." << method << " of the handler's shape";
    std::abort();
  }
  return found->index();
}

}  // namespace quilt
