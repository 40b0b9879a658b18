#include "quilt-cli/command.h"

#include <unistd.h>

#include <iostream>
#include <string>

#include "quilt-cli/output.h"

namespace quilt::cli {

int ReportError(const absl::Status& status, int exit_code) {
  std::cout.flush();
  std::cerr << "quilt-cli: " << status.message() << std::endl;
  return exit_code;
}

void PrintId(const GlobalOptions& global, const std::string& id) {
  if (global.json) {
    PrintJson(std::cout, nlohmann::json{{"id", id}});
  } else {
    std::cout << id << '\n';
  }
}

std::string CurrentDir() {
  std::string buffer(4096, '\0');
  if (::getcwd(buffer.data(), buffer.size()) == nullptr) return "";
  buffer.resize(buffer.find('\0'));
  return buffer;
}

}  // namespace quilt::cli
