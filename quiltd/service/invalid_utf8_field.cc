#include "quiltd/service/invalid_utf8_field.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/validation.h"

namespace quilt {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::DescriptorProto;
using google::protobuf::FieldDescriptor;
using google::protobuf::FieldDescriptorProto;
using google::protobuf::FileDescriptor;
using google::protobuf::FileDescriptorProto;
using google::protobuf::Message;

// Map keys longer than this are named by their entry's index: errors echo bounded input.
constexpr size_t kMaxKeyShown = 64;

// `bytes` has the wire format of `string` without its UTF-8 check.
void StringsToBytes(DescriptorProto& message) {
  for (FieldDescriptorProto& field : *message.mutable_field()) {
    if (field.type() == FieldDescriptorProto::TYPE_STRING) {
      field.set_type(FieldDescriptorProto::TYPE_BYTES);
    }
  }
  // Map keys cannot be bytes: a map becomes the repeated entry message it is on the wire.
  if (message.options().map_entry()) message.mutable_options()->set_map_entry(false);
  for (DescriptorProto& nested : *message.mutable_nested_type()) StringsToBytes(nested);
}

// Copies of message types in which every string field is bytes, so that a message protobuf
// refused for its UTF-8 parses, and its strings can be checked one by one. Files are copied
// on first use, with their dependencies.
class LenientTypes {
 public:
  // A prototype of the copy of `type`, or null if its file could not be copied.
  const Message* Prototype(const Descriptor& type) {
    absl::MutexLock lock(&mu_);
    if (Copy(*type.file()) == nullptr) return nullptr;
    const Descriptor* lenient = pool_.FindMessageTypeByName(type.full_name());
    return lenient == nullptr ? nullptr : factory_.GetPrototype(lenient);
  }

 private:
  const FileDescriptor* Copy(const FileDescriptor& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (const FileDescriptor* copied = pool_.FindFileByName(file.name())) return copied;
    for (int i = 0; i < file.dependency_count(); ++i) {
      if (Copy(*file.dependency(i)) == nullptr) return nullptr;
    }
    FileDescriptorProto proto;
    file.CopyTo(&proto);
    for (DescriptorProto& message : *proto.mutable_message_type()) StringsToBytes(message);
    return pool_.BuildFile(proto);
  }

  absl::Mutex mu_;
  google::protobuf::DescriptorPool pool_ ABSL_GUARDED_BY(mu_);
  google::protobuf::DynamicMessageFactory factory_{&pool_};
};

std::string Indexed(absl::string_view path, int i) { return absl::StrCat(path, "[", i, "]"); }

std::string MapEntryPath(absl::string_view path, const Message& entry, int index) {
  const FieldDescriptor* key = entry.GetDescriptor()->FindFieldByNumber(1);
  if (key == nullptr) return Indexed(path, index);
  if (key->type() == FieldDescriptor::TYPE_BYTES) {
    std::string scratch;
    const std::string& text = entry.GetReflection()->GetStringReference(entry, key, &scratch);
    if (text.size() > kMaxKeyShown || !IsValidUtf8(text)) return Indexed(path, index);
  }
  std::string printed;
  google::protobuf::TextFormat::PrintFieldValueToString(entry, key, -1, &printed);
  return absl::StrCat(path, "[", printed, "]");
}

// Walks `message` (a lenient copy) along `strict`, the type it was copied from, which knows
// which bytes fields were strings.
std::optional<std::string> FindIn(const Message& message, const Descriptor& strict,
                                  absl::string_view prefix) {
  const google::protobuf::Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);  // the set ones, by number
  for (const FieldDescriptor* field : fields) {
    const FieldDescriptor* strict_field = strict.FindFieldByNumber(field->number());
    if (strict_field == nullptr) continue;
    const std::string path =
        prefix.empty() ? field->name() : absl::StrCat(prefix, ".", field->name());
    const bool repeated = field->is_repeated();
    const int count = repeated ? reflection.FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      if (strict_field->type() == FieldDescriptor::TYPE_STRING) {
        std::string scratch;
        const std::string& value =
            repeated ? reflection.GetRepeatedStringReference(message, field, i, &scratch)
                     : reflection.GetStringReference(message, field, &scratch);
        if (!IsValidUtf8(value)) return repeated ? Indexed(path, i) : path;
      } else if (strict_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        const Message& value = repeated ? reflection.GetRepeatedMessage(message, field, i)
                                        : reflection.GetMessage(message, field);
        const std::string element = !repeated                ? path
                                    : strict_field->is_map() ? MapEntryPath(path, value, i)
                                                             : Indexed(path, i);
        if (std::optional<std::string> found =
                FindIn(value, *strict_field->message_type(), element)) {
          return found;
        }
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> FindInvalidUtf8Field(const Descriptor& type, absl::string_view wire) {
  static LenientTypes* const lenient_types = new LenientTypes();
  const Message* prototype = lenient_types->Prototype(type);
  if (prototype == nullptr) return std::nullopt;
  std::unique_ptr<Message> message(prototype->New());
  if (!message->ParseFromArray(wire.data(), static_cast<int>(wire.size()))) return std::nullopt;
  return FindIn(*message, type, "");
}

}  // namespace quilt
