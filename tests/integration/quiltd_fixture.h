// A real quiltd on a temporary socket and state dir, driven over gRPC and with quilt-cli.
// Every test using it checks on teardown that no container cgroup and no mount was left.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "quilt/v1/quilt.grpc.pb.h"

namespace quilt::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv to completion, capturing stdout and stderr (stdin is /dev/null).
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {});

class QuiltdTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts quiltd (again) on the same socket and state dir and waits for it to serve.
  void StartDaemon(const std::vector<std::string>& extra_args = {});
  // SIGKILLs the daemon (containers and their monitors keep running).
  void KillDaemon();
  // SIGTERMs the daemon and waits for it; returns its exit status.
  int StopDaemon();

  // quilt-cli with --socket set.
  CommandResult Cli(const std::vector<std::string>& args);

  // A spec running `command` from the default image.
  static v1::ContainerSpec Spec(const std::vector<std::string>& command);
  // Create(start=true); fails the test on an RPC error.
  v1::Container Run(const v1::ContainerSpec& spec);
  // Wait for the container to finish (RPC Wait).
  v1::Container WaitFor(const std::string& ref);
  // All log bytes of one stream (LOG_STREAM_UNSPECIFIED: both), with or without setup output.
  std::string Logs(const std::string& ref, v1::LogStream stream = v1::LOG_STREAM_UNSPECIFIED,
                   bool follow = false);

  // Polls the container's log until it contains `text` (at most 20 s); false on timeout.
  bool WaitForLog(const std::string& ref, const std::string& text);

  // Directories of container cgroups ("quilt-<id>") below this test's cgroup parent.
  std::vector<std::string> ContainerCgroups() const;
  // Directories of the cgroups of quiltd's spares ("quilt-spare-<name>", spare_pool.h).
  std::vector<std::string> SpareCgroups() const;
  // The daemon's spare monitors (prestarted containers, spare_pool.h), ready or being made.
  std::vector<pid_t> SpareMonitors() const;
  // How many of them are ready: their init sits in the spare's cgroups.
  size_t ReadySpares() const;
  // Waits (up to 10 s) until the daemon holds `count` ready spares, where it makes any (v1
  // cgroups): counts of its fds or processes then do not depend on one being made.
  void AwaitSpares(size_t count = 2) const;
  std::string MountTable() const;
  // The path of a controller file ("pids.max", "memory.max", ...) in the cgroup of `pid`: in
  // the v1 hierarchy of that controller when it has one, else in the v2 hierarchy; empty
  // when the file exists in neither.
  static std::string CgroupFileOf(pid_t pid, const std::string& file);

  std::string dir_;
  std::string socket_;
  std::string state_dir_;
  // Each test's daemon puts its containers under its own cgroup parent (below ours), so
  // tests running side by side never see each other's cgroups.
  std::string cgroup_parent_;
  pid_t daemon_pid_ = -1;
  // Put before quiltd's argv by StartDaemon, e.g. to run it in a mount namespace of its own
  // (must exec quiltd, keeping the pid).
  std::vector<std::string> daemon_wrapper_;
  // When set, StartDaemon lowers quiltd's soft open-files limit to it (the hard one stays).
  rlim_t daemon_open_files_soft_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Containers::Stub> containers_;
  std::unique_ptr<v1::Images::Stub> images_;
  std::unique_ptr<v1::System::Stub> system_;

 private:
  // Cgroup directories below this test's cgroup parent whose names start with `prefix`.
  std::vector<std::string> CgroupsNamed(const std::string& prefix) const;

  std::string mounts_before_;
};

}  // namespace quilt::testing
