#include "quiltd/service/invalid_utf8_field.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/text_format.h>

#include <memory>
#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quilt/v1/quilt.pb.h"

namespace quilt {
namespace {

using ::testing::Optional;

const std::string kNotUtf8 = "\xff\xfe";

// Protobuf serializes strings that are not UTF-8 as they are, but logs each one.
std::string Wire(const google::protobuf::Message& message) {
  google::protobuf::LogSilencer quiet;
  return message.SerializeAsString();
}

std::optional<std::string> Find(const google::protobuf::Message& message) {
  return FindInvalidUtf8Field(*message.GetDescriptor(), Wire(message));
}

v1::CreateRequest GoodCreate() {
  v1::CreateRequest request;
  v1::ContainerSpec& spec = *request.mutable_spec();
  spec.set_name("web");
  spec.add_command("echo");
  spec.add_env("A=1");
  spec.add_env("B=2");
  spec.add_mounts()->set_source("/tmp");
  return request;
}

TEST(FindInvalidUtf8FieldTest, NoneInAMessageOfUtf8Strings) {
  v1::CreateRequest request = GoodCreate();
  request.mutable_spec()->set_hostname("h\xc3\xa9");  // é
  EXPECT_EQ(Find(request), std::nullopt);
  EXPECT_EQ(Find(v1::VersionRequest()), std::nullopt);
}

TEST(FindInvalidUtf8FieldTest, NamesNestedAndRepeatedFieldsWithTheirIndex) {
  v1::CreateRequest request = GoodCreate();
  request.mutable_spec()->add_env(kNotUtf8);
  EXPECT_THAT(Find(request), Optional(std::string("spec.env[2]")));

  request = GoodCreate();
  request.mutable_spec()->add_mounts()->set_destination(kNotUtf8);
  EXPECT_THAT(Find(request), Optional(std::string("spec.mounts[1].destination")));

  request = GoodCreate();
  request.mutable_spec()->set_name(kNotUtf8);
  EXPECT_THAT(Find(request), Optional(std::string("spec.name")));
}

TEST(FindInvalidUtf8FieldTest, NamesFieldsInOneofs) {
  v1::ExecRequest exec;
  exec.mutable_start()->set_ref("web");
  exec.mutable_start()->set_user(kNotUtf8);
  EXPECT_THAT(Find(exec), Optional(std::string("start.user")));
  v1::AttachRequest attach;
  attach.set_ref(kNotUtf8);
  EXPECT_THAT(Find(attach), Optional(std::string("ref")));
}

TEST(FindInvalidUtf8FieldTest, FirstByFieldNumber) {
  v1::CreateRequest request = GoodCreate();
  request.mutable_spec()->add_env(kNotUtf8);
  request.mutable_spec()->set_image("bad \xc0\x80 overlong");
  EXPECT_THAT(Find(request), Optional(std::string("spec.image")));
}

TEST(FindInvalidUtf8FieldTest, NoneWhenTheBytesDoNotParseAnyway) {
  // A field header with no value after it.
  EXPECT_EQ(FindInvalidUtf8Field(*v1::GetRequest::descriptor(),
                                 "\x0a\x05"
                                 "ab"),
            std::nullopt);
  EXPECT_EQ(FindInvalidUtf8Field(*v1::GetRequest::descriptor(), "\xff"), std::nullopt);
}

// Quilt's API has no maps; they are named by key all the same.
class MapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(
          name: "quilt_invalid_utf8_field_test.proto"
          package: "quilt.test"
          syntax: "proto3"
          message_type {
            name: "Labels"
            field {
              name: "labels"
              number: 1
              label: LABEL_REPEATED
              type: TYPE_MESSAGE
              type_name: ".quilt.test.Labels.LabelsEntry"
            }
            field {
              name: "ports"
              number: 2
              label: LABEL_REPEATED
              type: TYPE_MESSAGE
              type_name: ".quilt.test.Labels.PortsEntry"
            }
            nested_type {
              name: "LabelsEntry"
              field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
              field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
              options { map_entry: true }
            }
            nested_type {
              name: "PortsEntry"
              field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_INT32 }
              field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
              options { map_entry: true }
            }
          }
        )pb",
        &file));
    ASSERT_NE(pool_.BuildFile(file), nullptr);
    type_ = pool_.FindMessageTypeByName("quilt.test.Labels");
  }

  // A Labels message with one entry per (key, value) of `labels`, then of `ports`.
  std::string Wire(const std::vector<std::pair<std::string, std::string>>& labels,
                   const std::vector<std::pair<int, std::string>>& ports = {}) {
    std::unique_ptr<google::protobuf::Message> message(factory_.GetPrototype(type_)->New());
    const google::protobuf::Reflection& reflection = *message->GetReflection();
    for (const auto& [key, value] : labels) {
      google::protobuf::Message* entry =
          reflection.AddMessage(message.get(), type_->FindFieldByName("labels"));
      entry->GetReflection()->SetString(entry, entry->GetDescriptor()->map_key(), key);
      entry->GetReflection()->SetString(entry, entry->GetDescriptor()->map_value(), value);
    }
    for (const auto& [key, value] : ports) {
      google::protobuf::Message* entry =
          reflection.AddMessage(message.get(), type_->FindFieldByName("ports"));
      entry->GetReflection()->SetInt32(entry, entry->GetDescriptor()->map_key(), key);
      entry->GetReflection()->SetString(entry, entry->GetDescriptor()->map_value(), value);
    }
    return quilt::Wire(*message);
  }

  google::protobuf::DescriptorPool pool_;
  google::protobuf::DynamicMessageFactory factory_{&pool_};
  const google::protobuf::Descriptor* type_ = nullptr;
};

TEST_F(MapTest, EntriesAreNamedByKey) {
  EXPECT_EQ(FindInvalidUtf8Field(*type_, Wire({{"a", "1"}, {"b", "2"}})), std::nullopt);
  EXPECT_THAT(FindInvalidUtf8Field(*type_, Wire({{"a", "1"}, {"b", kNotUtf8}})),
              Optional(std::string(R"(labels["b"].value)")));
  EXPECT_THAT(FindInvalidUtf8Field(*type_, Wire({}, {{80, "http"}, {8080, kNotUtf8}})),
              Optional(std::string("ports[8080].value")));
}

TEST_F(MapTest, EntriesWithUnfitKeysAreNamedByIndex) {
  EXPECT_THAT(FindInvalidUtf8Field(*type_, Wire({{"a", "1"}, {kNotUtf8, "2"}})),
              Optional(std::string("labels[1].key")));
  EXPECT_THAT(FindInvalidUtf8Field(*type_, Wire({{"a", "1"}, {std::string(65, 'k'), kNotUtf8}})),
              Optional(std::string("labels[1].value")));
}

}  // namespace
}  // namespace quilt
