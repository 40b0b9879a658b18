// quilt-cli cp SRC CONTAINER:DST | CONTAINER:SRC DST: copies files and directories into or out
// of a container, running or stopped, as `docker cp` does. "-" as the local side is a tar on
// stdin or stdout. Symlinks are copied as symlinks; modes, owners (as root) and mtimes kept.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/local_tar.h"
#include "quilt-cli/output.h"

namespace quilt::cli {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// One side of a copy: CONTAINER:PATH, or a local path ("-" for stdin/stdout). As for docker,
// a local path with a colon must hold a "/" before it ("./a:b").
struct Location {
  std::string container;  // empty for a local path
  std::string path;
};

Location ParseLocation(const std::string& arg) {
  const size_t colon = arg.find(':');
  if (colon == std::string::npos || colon == 0 ||
      arg.substr(0, colon).find('/') != std::string::npos) {
    return {"", arg};
  }
  std::string path = arg.substr(colon + 1);
  // Relative container paths are relative to its root.
  if (path.empty() || path[0] != '/') path = "/" + path;
  return {arg.substr(0, colon), path};
}

// `path` without trailing slashes ("/" stays "/").
std::string Trimmed(absl::string_view path) {
  while (path.size() > 1 && absl::ConsumeSuffix(&path, "/")) {
  }
  return std::string(path);
}

std::string BaseName(const std::string& path) {
  const std::string trimmed = Trimmed(path);
  const size_t slash = trimmed.rfind('/');
  return slash == std::string::npos ? trimmed : trimmed.substr(slash + 1);
}

std::string DirName(const std::string& path) {
  const std::string trimmed = Trimmed(path);
  const size_t slash = trimmed.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : trimmed.substr(0, slash);
}

// Streams messages of up to 64 KiB to the server; false once the server stopped reading.
class CopyToStream {
 public:
  explicit CopyToStream(grpc::ClientWriter<quilt::v1::CopyToRequest>* writer) : writer_(writer) {}

  absl::Status Add(absl::string_view bytes) {
    pending_.append(bytes.data(), bytes.size());
    return pending_.size() >= kChunkBytes ? Flush() : absl::OkStatus();
  }

  absl::Status Flush() {
    if (pending_.empty()) return absl::OkStatus();
    quilt::v1::CopyToRequest request;
    request.set_data(std::move(pending_));
    pending_.clear();
    // A refused write means the server ended the call: Finish tells why.
    if (!writer_->Write(request)) return absl::AbortedError("the server stopped the copy");
    return absl::OkStatus();
  }

 private:
  grpc::ClientWriter<quilt::v1::CopyToRequest>* writer_;
  std::string pending_;
};

absl::Status StdinToStream(CopyToStream& stream) {
  std::string buf(kChunkBytes, '\0');
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("read stdin: ", strerror(errno)));
    if (n == 0) return stream.Flush();
    absl::Status added = stream.Add(absl::string_view(buf.data(), static_cast<size_t>(n)));
    if (!added.ok()) return added;
  }
}

int CopyIn(const GlobalOptions& global, const std::string& src, const Location& dst) {
  // "dir/." copies the directory's contents; anything else the file or directory itself.
  const bool from_stdin = src == "-";
  const bool contents = absl::EndsWith(src, "/.") || src == ".";
  std::string local = contents ? src.substr(0, src.size() - 1) : src;
  local = local.empty() ? "." : Trimmed(local);
  quilt::v1::CopyToRequest header;
  header.set_ref(dst.container);
  header.set_path(dst.path);
  if (!from_stdin) header.set_source_name(contents ? "." : BaseName(src));
  if (!from_stdin) {
    struct stat st;
    if (::lstat(local.c_str(), &st) != 0) {
      return ReportError(absl::NotFoundError(absl::StrCat("copy ", src, ": ", strerror(errno))));
    }
  }

  Client client(global.socket);
  grpc::ClientContext context;
  quilt::v1::CopyToResponse response;
  std::unique_ptr<grpc::ClientWriter<quilt::v1::CopyToRequest>> writer =
      client.CopyTo(&context, &response);
  absl::Status sent = absl::OkStatus();
  if (!writer->Write(header)) sent = absl::AbortedError("the server stopped the copy");
  CopyToStream stream(writer.get());
  if (sent.ok() && from_stdin) sent = StdinToStream(stream);
  if (sent.ok() && !from_stdin) {
    sent = ArchiveLocalPath(local, header.source_name(),
                            [&stream](absl::string_view bytes) { return stream.Add(bytes); });
    if (sent.ok()) sent = stream.Flush();
  }
  if (!sent.ok() && !absl::IsAborted(sent)) context.TryCancel();
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (!status.ok() && (sent.ok() || absl::IsAborted(sent))) {
    return ReportError(client.FailureStatus(status));
  }
  if (!sent.ok()) return ReportError(sent);
  return 0;
}

// Where a copy out lands: extracted into `dir`, its top entry renamed from `from` to `to`.
struct LocalTarget {
  std::string dir;
  std::string from;
  std::string to;
};

absl::StatusOr<LocalTarget> ChooseTarget(const quilt::v1::PathStat& source,
                                         const std::string& dst) {
  const bool source_is_dir = S_ISDIR(source.mode());
  struct stat st;
  if (::stat(dst.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return LocalTarget{dst, "", ""};
    if (source_is_dir) {
      return absl::FailedPreconditionError(
          absl::StrCat("copy to ", dst, ": cannot copy a directory onto a file"));
    }
    return LocalTarget{DirName(dst), source.name(), BaseName(dst)};
  }
  if (source.name() == ".") {
    if (::mkdir(dst.c_str(), 0755) != 0) {
      return absl::NotFoundError(absl::StrCat("create ", dst, ": ", strerror(errno)));
    }
    return LocalTarget{dst, "", ""};
  }
  if (absl::EndsWith(dst, "/") && !source_is_dir) {
    return absl::NotFoundError(absl::StrCat("copy to ", dst, ": no such directory"));
  }
  const std::string parent = DirName(dst);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("copy to ", dst, ": no such directory ", parent));
  }
  return LocalTarget{parent, source.name(), BaseName(dst)};
}

int CopyOut(const GlobalOptions& global, const Location& src, const std::string& dst) {
  Client client(global.socket);
  grpc::ClientContext context;
  quilt::v1::CopyFromRequest request;
  request.set_ref(src.container);
  request.set_path(src.path);
  std::unique_ptr<grpc::ClientReader<quilt::v1::CopyFromResponse>> reader =
      client.CopyFrom(&context, request);
  quilt::v1::CopyFromResponse response;
  absl::Status result = absl::OkStatus();
  if (reader->Read(&response) && response.has_stat()) {
    const auto next = [&reader, &response](std::string* chunk) {
      chunk->clear();
      while (chunk->empty() && reader->Read(&response))
        *chunk = std::move(*response.mutable_data());
      return absl::OkStatus();
    };
    if (dst == "-") {
      std::string chunk;
      while (result.ok() && next(&chunk).ok() && !chunk.empty()) {
        result = WriteAll(STDOUT_FILENO, chunk);
      }
    } else {
      absl::StatusOr<LocalTarget> target = ChooseTarget(response.stat(), dst);
      result =
          target.ok() ? ExtractLocal(next, target->dir, target->from, target->to) : target.status();
    }
  }
  if (!result.ok()) context.TryCancel();
  grpc::Status status = reader->Finish();
  if (!result.ok()) return ReportError(result);
  if (!status.ok()) return ReportError(client.FailureStatus(status));
  return 0;
}

int RunCp(const GlobalOptions& global, const std::string& src_arg, const std::string& dst_arg) {
  const Location src = src_arg == "-" ? Location{"", "-"} : ParseLocation(src_arg);
  const Location dst = dst_arg == "-" ? Location{"", "-"} : ParseLocation(dst_arg);
  if (src.container.empty() == dst.container.empty()) {
    return ReportError(
        absl::InvalidArgumentError("cp: exactly one of SRC and DST must be CONTAINER:PATH"));
  }
  if (!src.container.empty()) return CopyOut(global, src, dst.path);
  return CopyIn(global, src.path, dst);
}

}  // namespace

void AddCpCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command = app.add_subcommand(
      "cp",
      "Copy files between a container and the host (CONTAINER:PATH on one side; - for a tar)");
  auto src = std::make_shared<std::string>();
  auto dst = std::make_shared<std::string>();
  command->add_option("src", *src, "Source: a local path, CONTAINER:PATH, or - (tar on stdin)")
      ->required();
  command
      ->add_option("dst", *dst, "Destination: a local path, CONTAINER:PATH, or - (tar on stdout)")
      ->required();
  OnRun(command, invocation,
        [src, dst](const GlobalOptions& global) { return RunCp(global, *src, *dst); });
}

}  // namespace quilt::cli
