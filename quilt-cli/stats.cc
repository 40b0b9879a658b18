// quilt-cli stats REF... [--no-stream]: resource usage of running containers, refreshed every
// second like docker stats. CPU % needs two samples, so the first table comes after one
// interval.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "quilt-cli/client.h"
#include "quilt-cli/command.h"
#include "quilt-cli/output.h"
#include "quilt-cli/stats_format.h"

namespace quilt::cli {
namespace {

constexpr absl::Duration kInterval = absl::Seconds(1);
// Clears the terminal and moves the cursor home, as docker stats does between refreshes.
constexpr char kClearScreen[] = "\033[2J\033[H";

struct StatsOptions {
  std::vector<std::string> refs;
  bool no_stream = false;
};

absl::StatusOr<std::vector<StatsSample>> TakeSamples(Client& client,
                                                     const std::vector<std::string>& refs) {
  std::vector<StatsSample> samples;
  for (const std::string& ref : refs) {
    quilt::v1::StatsRequest request;
    request.set_ref(ref);
    absl::StatusOr<quilt::v1::StatsResponse> response = client.Stats(request);
    if (!response.ok()) return response.status();
    samples.push_back({*std::move(response), absl::Now()});
  }
  return samples;
}

void Print(const GlobalOptions& global, bool stream, const std::vector<StatsSample>& before,
           const std::vector<StatsSample>& after) {
  if (global.json) {
    nlohmann::json array = nlohmann::json::array();
    for (size_t i = 0; i < after.size(); ++i) {
      array.push_back(StatsJson(after[i], CpuPercent(before[i], after[i])));
    }
    // A stream is one compact array per line, so that a reader can take it line by line.
    if (stream) {
      std::cout << array.dump() << std::endl;
    } else {
      PrintJson(std::cout, array);
    }
    return;
  }
  Table table(StatsHeader());
  for (size_t i = 0; i < after.size(); ++i) {
    table.AddRow(StatsRow(after[i], CpuPercent(before[i], after[i])));
  }
  if (stream) std::cout << kClearScreen;
  table.Print(std::cout);
  std::cout.flush();
}

int RunStats(const GlobalOptions& global, const StatsOptions& options) {
  Client client(global.socket);
  absl::StatusOr<std::vector<StatsSample>> before = TakeSamples(client, options.refs);
  if (!before.ok()) return ReportError(before.status());
  while (true) {
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(kInterval));
    absl::StatusOr<std::vector<StatsSample>> after = TakeSamples(client, options.refs);
    if (!after.ok()) return ReportError(after.status());
    Print(global, !options.no_stream, *before, *after);
    if (options.no_stream) return 0;
    before = std::move(after);
  }
}

}  // namespace

void AddStatsCommand(CLI::App& app, Invocation& invocation) {
  CLI::App* command =
      app.add_subcommand("stats", "Show memory, CPU and process usage of running containers");
  auto options = std::make_shared<StatsOptions>();
  command->add_option("ref", options->refs, "Container ids, id prefixes or names")->required();
  command->add_flag("--no-stream", options->no_stream, "Print one sample and exit");
  OnRun(command, invocation,
        [options](const GlobalOptions& global) { return RunStats(global, *options); });
}

}  // namespace quilt::cli
