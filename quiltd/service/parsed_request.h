// Requests as quiltd's handlers get them: parsed by quiltd, not by gRPC's generated
// handlers, so that a message protobuf refuses (proto3 strings must be UTF-8) still reaches
// quiltd and is refused with INVALID_ARGUMENT naming the field. gRPC's own handlers drop the
// parse error: a unary or server-streaming call ends with UNIMPLEMENTED and no message, and
// a message on a client stream looks like the client's half-close.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "quiltd/service/status_conversion.h"
#include "quiltd/service/unary.h"

namespace quilt {

// A request message, or why its bytes did not parse (then `message` is empty).
template <typename Message>
struct ParsedRequest {
  Message message;
  absl::Status status;
};

// Parses `buffer` into `message` as gRPC would, and clears `buffer`. Only when that fails,
// finds why: INVALID_ARGUMENT "<field>: not valid UTF-8" (such as "spec.env[2]"), else
// INVALID_ARGUMENT "request: not a valid <type> message".
absl::Status ParseRequest(grpc::ByteBuffer* buffer, google::protobuf::Message* message);

// The index gRPC's generated code gives `method` of `service` (the order of the rpc
// declarations). Aborts (a programming error) unless the method exists with these types and
// streaming directions.
int GeneratedMethodIndex(absl::string_view service, absl::string_view method,
                         const google::protobuf::Descriptor* request,
                         const google::protobuf::Descriptor* response, bool client_streaming,
                         bool server_streaming);

// Ends a server-streaming call before it starts.
template <typename Response>
class RefusedWriteReactor final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriteReactor(const absl::Status& status) { this->Finish(ToGrpcStatus(status)); }
  void OnDone() override { delete this; }
};

// One service of the API (`Api`: v1::Containers, v1::Images, v1::System), to register with a
// grpc::ServerBuilder, whose methods are served by quiltd's handlers through ParsedRequest:
// unary and server-streaming handlers are called only with a request that parsed (else the
// call ends with its status); the reactors of client streams read ParsedRequest messages and
// check each one's status. A method no Serve call covers stays gRPC's synchronous
// placeholder (has_synchronous_methods() tells).
template <typename Api>
class ParsedRequestService final : public Api::Service {
 public:
  // Serves the RPC named `method` in the proto with `handler->*serve`: one overload per kind
  // of RPC (unary, server stream, client stream, bidirectional stream).
  template <typename Handler, typename Request, typename Response>
  void Serve(absl::string_view method, Handler* handler,
             grpc::ServerUnaryReactor* (Handler::*serve)(grpc::CallbackServerContext*,
                                                         const Request*, Response*)) {
    this->MarkMethodCallback(
        Index<Request, Response>(method, false, false),
        new grpc::internal::CallbackUnaryHandler<ParsedRequest<Request>, Response>(
            [handler, serve](grpc::CallbackServerContext* context,
                             const ParsedRequest<Request>* request, Response* response) {
              if (!request->status.ok()) return FinishNow(context, request->status);
              return (handler->*serve)(context, &request->message, response);
            }));
  }

  template <typename Handler, typename Request, typename Response>
  void Serve(absl::string_view method, Handler* handler,
             grpc::ServerWriteReactor<Response>* (Handler::*serve)(grpc::CallbackServerContext*,
                                                                   const Request*)) {
    this->MarkMethodCallback(
        Index<Request, Response>(method, false, true),
        new grpc::internal::CallbackServerStreamingHandler<ParsedRequest<Request>, Response>(
            [handler, serve](
                grpc::CallbackServerContext* context,
                const ParsedRequest<Request>* request) -> grpc::ServerWriteReactor<Response>* {
              if (!request->status.ok()) return new RefusedWriteReactor<Response>(request->status);
              return (handler->*serve)(context, &request->message);
            }));
  }

  template <typename Handler, typename Request, typename Response>
  void Serve(absl::string_view method, Handler* handler,
             grpc::ServerReadReactor<ParsedRequest<Request>>* (Handler::*serve)(
                 grpc::CallbackServerContext*, Response*)) {
    this->MarkMethodCallback(
        Index<Request, Response>(method, true, false),
        new grpc::internal::CallbackClientStreamingHandler<ParsedRequest<Request>, Response>(
            [handler, serve](grpc::CallbackServerContext* context, Response* response) {
              return (handler->*serve)(context, response);
            }));
  }

  template <typename Handler, typename Request, typename Response>
  void Serve(absl::string_view method, Handler* handler,
             grpc::ServerBidiReactor<ParsedRequest<Request>, Response>* (Handler::*serve)(
                 grpc::CallbackServerContext*)) {
    this->MarkMethodCallback(
        Index<Request, Response>(method, true, true),
        new grpc::internal::CallbackBidiHandler<ParsedRequest<Request>, Response>(
            [handler, serve](grpc::CallbackServerContext* context) {
              return (handler->*serve)(context);
            }));
  }

 private:
  template <typename Request, typename Response>
  static int Index(absl::string_view method, bool client_streaming, bool server_streaming) {
    return GeneratedMethodIndex(Api::service_full_name(), method, Request::descriptor(),
                                Response::descriptor(), client_streaming, server_streaming);
  }
};

}  // namespace quilt

namespace grpc {

// How gRPC reads a ParsedRequest: as far as gRPC knows, parsing never fails. (A
// specialization for quilt's own type, so every translation unit sees the same one.)
template <typename Message>
class SerializationTraits<quilt::ParsedRequest<Message>> {
 public:
  static Status Deserialize(ByteBuffer* buffer, quilt::ParsedRequest<Message>* request) {
    request->status = quilt::ParseRequest(buffer, &request->message);
    return Status::OK;
  }
};

}  // namespace grpc
