#include "quiltd/service/parsed_request.h"

#include <google/protobuf/stubs/logging.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/service/containers_service.h"
#include "quiltd/service/images_service.h"

namespace quilt {
namespace {

grpc::ByteBuffer BufferOf(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Wire(const google::protobuf::Message& message) {
  google::protobuf::LogSilencer quiet;  // protobuf logs each string that is not UTF-8
  return message.SerializeAsString();
}

TEST(ParseRequestTest, ParsesAValidRequest) {
  v1::CreateRequest sent;
  sent.mutable_spec()->add_env("A=1");
  sent.set_start(true);
  grpc::ByteBuffer buffer = BufferOf(Wire(sent));
  v1::CreateRequest parsed;
  EXPECT_TRUE(ParseRequest(&buffer, &parsed).ok());
  EXPECT_EQ(parsed.SerializeAsString(), sent.SerializeAsString());
  EXPECT_FALSE(buffer.Valid());  // consumed, as gRPC's own parser leaves it
}

TEST(ParseRequestTest, NamesTheFieldThatIsNotUtf8) {
  v1::CreateRequest sent;
  sent.mutable_spec()->add_env("A=1");
  sent.mutable_spec()->add_env("B=2");
  sent.mutable_spec()->add_env("\xff\xfe");
  grpc::ByteBuffer buffer = BufferOf(Wire(sent));
  v1::CreateRequest parsed;
  google::protobuf::LogSilencer quiet;
  const absl::Status status = ParseRequest(&buffer, &parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "spec.env[2]: not valid UTF-8");
  EXPECT_EQ(parsed.ByteSizeLong(), 0u);
}

TEST(ParseRequestTest, RefusesBytesThatAreNoMessage) {
  grpc::ByteBuffer buffer = BufferOf(
      "\x0a\x7f"
      "short");
  v1::CreateRequest parsed;
  const absl::Status status = ParseRequest(&buffer, &parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "request: not a valid quilt.v1.CreateRequest message");
}

// Every RPC goes through ParsedRequest: none is left to gRPC's generated placeholder.
TEST(ParsedRequestServiceTest, EveryMethodIsServed) {
  ContainersService containers(nullptr, nullptr);
  ImagesService images(nullptr, nullptr);
  SystemService system(nullptr);
  for (grpc::Service* service :
       {containers.grpc_service(), images.grpc_service(), system.grpc_service()}) {
    EXPECT_FALSE(service->has_synchronous_methods());
    EXPECT_TRUE(service->has_callback_methods());
  }
}

}  // namespace
}  // namespace quilt
