// Fuzzes request validation: the first byte picks a request type, the rest is parsed as that
// protobuf message and run through its validators, or, when it does not parse, searched for
// the string field that is not UTF-8 as quiltd does. Besides crashes and sanitizer reports,
// it aborts when a refusal is not INVALID_ARGUMENT or its message is unfit to return to a
// client (over 1 KiB, which would echo a huge input, or not valid UTF-8).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/validation.h"
#include "google/protobuf/stubs/logging.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/service/invalid_utf8_field.h"
#include "quiltd/service/request_validation.h"

namespace {

void Check(const absl::Status& status) {
  if (status.ok()) return;
  const bool fit = status.code() == absl::StatusCode::kInvalidArgument &&
                   status.message().size() <= 1024 &&
                   quilt::ValidateText("message", status.message(), 1024).ok();
  if (!fit) {
    std::fprintf(stderr, "unfit refusal (%d, %zu bytes): %s\n", static_cast<int>(status.code()),
                 status.message().size(), absl::CHexEscape(status.message()).c_str());
    std::abort();
  }
}

template <typename Message>
bool Parse(Message& m, const uint8_t* data, size_t size) {
  if (m.ParseFromArray(data, static_cast<int>(size))) return true;
  const absl::string_view wire(reinterpret_cast<const char*>(data), size);
  if (std::optional<std::string> field =
          quilt::FindInvalidUtf8Field(*Message::descriptor(), wire)) {
    Check(absl::InvalidArgumentError(absl::StrCat(*field, ": not valid UTF-8")));
  }
  return false;
}

}  // namespace

// protobuf logs every string field that is not UTF-8 (which it refuses to parse): millions
// of lines per run.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 7;
  ++data;
  --size;
  switch (kind) {
    case 0: {
      quilt::v1::CreateRequest r;
      if (Parse(r, data, size)) Check(quilt::ValidateSpec(r.spec()));
      break;
    }
    case 1: {
      quilt::v1::ExecRequest r;
      if (Parse(r, data, size)) {
        if (r.has_start()) Check(quilt::ValidateExecStart(r.start()));
        if (r.input().has_resize()) {
          Check(quilt::ValidateTerminalSize("input.resize", r.input().resize()));
        }
      }
      break;
    }
    case 2: {
      quilt::v1::StopRequest r;
      if (Parse(r, data, size)) Check(quilt::ValidateStopRequest(r));
      break;
    }
    case 3: {
      quilt::v1::ImportRequest r;
      if (Parse(r, data, size)) Check(quilt::ValidateImportRequest(r));
      break;
    }
    case 4: {
      quilt::v1::KillRequest r;
      if (Parse(r, data, size)) {
        Check(quilt::ValidateRef(r.ref()));
        Check(quilt::ValidateSignal(r.signal()));
      }
      break;
    }
    case 5: {
      quilt::v1::ListRequest r;
      if (Parse(r, data, size)) Check(quilt::ValidateListRequest(r));
      break;
    }
    case 6: {
      quilt::v1::LogsRequest r;
      if (Parse(r, data, size)) Check(quilt::ValidateLogsRequest(r));
      break;
    }
  }
  return 0;
}
