// quilt-cli image import PATH [--name N] | image ls | image rm REF [-f]: the image store.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"
#include "quilt-cli/parse.h"

namespace quilt::cli {
namespace {

struct ImportOptions {
  std::string path;
  std::string name;
};

struct RemoveImageOptions {
  std::string ref;
  bool force = false;
};

int RunImport(const GlobalOptions& global, const ImportOptions& options) {
  quilt::v1::ImportRequest request;
  // The daemon opens the path itself, from its own working directory.
  request.set_path(AbsolutePath(options.path, CurrentDir()));
  request.set_name(options.name);
  Client client(global.socket);
  absl::StatusOr<quilt::v1::ImportResponse> response = client.Import(request);
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

}  // namespace

void AddImageCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* image = app.add_subcommand("image", "Manage images");
  image->require_subcommand(1);

  CLI::App* import = image->add_subcommand("import", "Import a rootfs tarball");
  auto import_options = std::make_shared<ImportOptions>();
  import->add_option("path", import_options->path, "Tarball path")->required();
  import->add_option("--name", import_options->name, "Name to give the image");
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
}

}  // namespace quilt::cli
