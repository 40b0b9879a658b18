// quilt-cli image import PATH [--name N] [--tag T] | image ls | image rm REF [-f]
// | image prune [-a]: the image store. On a terminal, import shows its progress on one line of
// stderr (progress_bar.h).
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/interrupt.h"
#include "quilt-cli/output.h"
#include "quilt-cli/parse.h"
#include "quilt-cli/progress_bar.h"

namespace quilt::cli {
namespace {

struct ImportOptions {
  std::string path;
  std::string name;
  std::string tag;
};

struct RemoveImageOptions {
  std::string ref;
  bool force = false;
};

// How an ImportWithProgress call ended.
struct StreamedImport {
  grpc::Status status;
  std::optional<quilt::v1::ImportResponse> result;
  bool answered = false;    // the daemon sent at least one message
  int64_t input_bytes = 0;  // of the first pass: the file or the layers (0: unknown)
};

// Runs the import over ImportWithProgress, drawing the progress line on `terminal` (a file
// descriptor, or -1 for none). The watcher cancels the call on Ctrl-C.
StreamedImport StreamImport(Client& client, const quilt::v1::ImportRequest& request,
                            InterruptWatcher& watcher, int terminal) {
  StreamedImport outcome;
  grpc::ClientContext context;
  watcher.Watch(&context);
  std::optional<ImportProgressLine> line;
  if (terminal >= 0) line.emplace(terminal);
  auto reader = client.ImportWithProgress(&context, request);
  quilt::v1::ImportWithProgressResponse message;
  while (reader->Read(&message)) {
    outcome.answered = true;
    if (message.has_result()) {
      outcome.result = message.result();
    } else if (message.has_progress()) {
      if (outcome.input_bytes == 0) outcome.input_bytes = message.progress().bytes_total();
      if (line.has_value()) line->Update(message.progress(), absl::Now());
    }
  }
  watcher.Watch(nullptr);
  outcome.status = reader->Finish();
  return outcome;  // the line is cleared as it goes out of scope, before anything is printed
}

// The line left on the terminal once the bar is gone: what the import did.
std::string Summary(const StreamedImport& outcome, absl::Duration elapsed) {
  if (!outcome.result->unpacked()) return "already in the store: nothing unpacked";
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (outcome.input_bytes <= 0 || seconds <= 0) {
    return absl::StrFormat("imported in %.1fs", seconds);
  }
  return absl::StrFormat("imported %s in %.1fs (%.1f MB/s)",
                         ProgressBytes(outcome.input_bytes, outcome.input_bytes), seconds,
                         static_cast<double>(outcome.input_bytes) / seconds / 1e6);
}

int RunImport(const GlobalOptions& global, const ImportOptions& options) {
  quilt::v1::ImportRequest request;
  // The daemon opens the path itself, from its own working directory.
  request.set_path(AbsolutePath(options.path, CurrentDir()));
  request.set_name(options.name);
  request.set_tag(options.tag);
  // The bar goes to stderr, and only to a terminal: piped or redirected, stderr stays clean.
  const int terminal = ::isatty(STDERR_FILENO) ? STDERR_FILENO : -1;
  // Before any gRPC thread exists (see InterruptWatcher): Ctrl-C cancels the call, which makes
  // quiltd stop the import and leave its store as it was, and the bar is cleared on the way.
  std::optional<InterruptWatcher> watcher(std::in_place);
  Client client(global.socket);
  const absl::Time started = absl::Now();
  StreamedImport outcome = StreamImport(client, request, *watcher, terminal);
  const int signal = watcher->signal();
  // Restores the signal mask: from here on Ctrl-C ends quilt-cli as usual.
  watcher.reset();
  if (signal != 0) return ReportError(absl::CancelledError("import cancelled"), 128 + signal);
  absl::StatusOr<quilt::v1::ImportResponse> response;
  if (outcome.status.error_code() == grpc::StatusCode::UNIMPLEMENTED && !outcome.answered) {
    // A quiltd from before ImportWithProgress: the same import, without progress.
    response = client.Import(request);
  } else if (!outcome.status.ok()) {
    response = client.FailureStatus(outcome.status);
  } else if (!outcome.result.has_value()) {
    response = absl::InternalError("import: the stream ended without a result");
  } else {
    if (terminal >= 0) {
      std::cerr << Summary(outcome, absl::Now() - started) << std::endl;
    }
    response = *std::move(outcome.result);
  }
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, ProtoToJson(*response));
  } else {
    std::cout << response->image().digest() << '\n';
  }
  return 0;
}

int RunList(const GlobalOptions& global) {
  Client client(global.socket);
  absl::StatusOr<quilt::v1::ListImagesResponse> response = client.ListImages();
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    nlohmann::json array = nlohmann::json::array();
    for (const quilt::v1::Image& image : response->images()) array.push_back(ProtoToJson(image));
    PrintJson(std::cout, array);
    return 0;
  }
  absl::Time now = absl::Now();
  Table table({"DIGEST", "NAMES", "SIZE", "CREATED"});
  for (const quilt::v1::Image& image : response->images()) {
    table.AddRow({ShortDigest(image.digest()), absl::StrJoin(image.names(), ","),
                  HumanSize(image.size_bytes()),
                  HumanDuration(now - ToTime(image.created_at())) + " ago"});
  }
  table.Print(std::cout);
  return 0;
}

int RunRemove(const GlobalOptions& global, const RemoveImageOptions& options) {
  quilt::v1::RemoveImageRequest request;
  request.set_ref(options.ref);
  request.set_force(options.force);
  Client client(global.socket);
  absl::StatusOr<quilt::v1::RemoveImageResponse> response = client.RemoveImage(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, {{"digest", response->digest()}});
  } else {
    std::cout << response->digest() << '\n';
  }
  return 0;
}

int RunPrune(const GlobalOptions& global, bool all) {
  quilt::v1::PruneImagesRequest request;
  request.set_all(all);
  Client client(global.socket);
  absl::StatusOr<quilt::v1::PruneImagesResponse> response = client.PruneImages(request);
  if (!response.ok()) return ReportError(response.status());
  if (global.json) {
    PrintJson(std::cout, ProtoToJson(*response));
    return 0;
  }
  for (const std::string& digest : response->digests()) std::cout << digest << '\n';
  std::cout << "Reclaimed " << HumanSize(response->reclaimed_bytes()) << '\n';
  return 0;
}

}  // namespace

void AddImageCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);

  CLI::App* import = image->add_subcommand(
      "import", "Import an OCI image layout, oci-archive, docker save archive or rootfs tarball");
  auto import_options = std::make_shared<ImportOptions>();
  import->add_option("path", import_options->path, "Directory or tarball path")->required();
  import->add_option("--name", import_options->name, "Name to give the image");
  import->add_option("--tag", import_options->tag,
                     "Which image of a layout or archive holding several");
  OnRun(import, invocation, [import_options](const GlobalOptions& global) {
    return RunImport(global, *import_options);
  });

  CLI::App* list = image->add_subcommand("ls", "List images");
  OnRun(list, invocation, [](const GlobalOptions& global) { return RunList(global); });

  CLI::App* remove = image->add_subcommand("rm", "Remove an image");
  auto remove_options = std::make_shared<RemoveImageOptions>();
  remove->add_option("ref", remove_options->ref, "Image name, digest or digest prefix")->required();
  remove->add_flag("-f,--force", remove_options->force, "Remove even if containers use it");
  OnRun(remove, invocation, [remove_options](const GlobalOptions& global) {
    return RunRemove(global, *remove_options);
  });

  CLI::App* prune = image->add_subcommand("prune", "Remove unused images without a name");
  auto prune_all = std::make_shared<bool>(false);
  prune->add_flag("-a,--all", *prune_all, "Remove every unused image, named or not");
  OnRun(prune, invocation,
        [prune_all](const GlobalOptions& global) { return RunPrune(global, *prune_all); });
}

}  // namespace quilt::cli
