// quilt-cli image import PATH [--name N] [--tag T] | image ls | image rm REF [-f]
// | image prune [-a]: the image store.
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
  std::string tag;
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
  request.set_tag(options.tag);
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
