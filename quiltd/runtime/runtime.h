// The container lifecycle: the only place that knows the order of steps.
//
//   Create:  resolve image -> bundle dirs -> resolve user -> row in the store (CREATED)
//   Start:   cgroup with limits -> config.json -> spawn monitor -> start report
//            -> RUNNING (or FAILED with the reason), then watch the monitor
//   exit:    exit.json + OOM counter -> EXITED -> cgroup removed -> waiters woken
//   Remove:  kill if forced -> cgroup -> bundle dir -> row
// Every transition is written to the store before the caller hears of it. Methods block
// (the service runs them on its thread pool) except Wait, which calls back.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "quilt/v1/quilt.pb.h"
#include "quiltd/cgroup/cgroup_manager.h"
#include "quiltd/events/event_log.h"
#include "quiltd/image/image_store.h"
#include "quiltd/logs/log_watcher.h"
#include "quiltd/runtime/attach_client.h"
#include "quiltd/runtime/exec_launcher.h"
#include "quiltd/runtime/exec_server_client.h"
#include "quiltd/runtime/exit_watcher.h"
#include "quiltd/runtime/monitor_launcher.h"
#include "quiltd/runtime/process_table.h"
#include "quiltd/runtime/seccomp_profile.h"
#include "quiltd/runtime/spare_pool.h"
#include "quiltd/runtime/trash.h"
#include "quiltd/runtime/user_resolver.h"
#include "quiltd/runtime/userns_range.h"
#include "quiltd/store/state_store.h"

namespace quilt {

struct RuntimeOptions {
  std::string state_dir;           // absolute, symlink-free
  std::string cgroup_parent;       // empty: quiltd's own cgroup
  std::string monitor_path;        // the quilt-monitor executable
  std::string default_image_path;  // tarball imported as "default" on first use
  ExtractLimits image_limits;      // what one image import may unpack
  IdRange userns_pool;             // host ids for spec.userns "auto"; size 0: none
  int prestart = 0;                // spares kept ready (spare_pool.h); 0: none
};

// A running container's processes, as Top reports them.
struct ContainerProcesses {
  std::string id;
  std::vector<ProcessInfo> processes;
};

// A running container's usage, as Stats reports it.
struct ContainerStats {
  std::string id;
  CgroupStats usage;
};

// What Exec runs in a container; empty fields keep the workload's.
struct ExecOptions {
  std::vector<std::string> argv;  // verbatim; argv[0] searched in the container's PATH
  std::vector<std::string> env;   // "K=V", overriding the workload's environment
  std::string working_dir;
  std::string user;  // as ContainerSpec.user, resolved in the image
  ExecIo io;         // timeout, stdin and terminal
};

// An exec between Runtime::BeginExec and Runtime::FinishExec.
struct PendingExec {
  ContainerRecord record;
  std::string container_config;  // the text of the container's config.json
  std::string exec_config;       // the exec's config (the same, with the exec's command)
  ExecIo io;
  std::optional<SentExecRequest> sent;  // when the container's exec server listened
};

// A container's root directory opened for a copy (Runtime::OpenCopyRoot).
struct CopyRoot {
  std::string id;
  // Set for a stopped container: its detached overlay, shared with concurrent copies; the
  // container stays claimed (no Start, no Remove) until the last copy drops it. Declared
  // before `fd` so that every fd of the mount is closed before the claim ends.
  std::shared_ptr<void> claim;
  UniqueFd fd;  // O_PATH directory fd of the container's "/"
};

class Runtime {
 public:
  using RecordCallback = std::function<void(absl::StatusOr<ContainerRecord>)>;

  // Opens the stores, discovers cgroups and reconciles every container with reality (see
  // Recover). Call before any other thread uses libcgroup.
  static absl::StatusOr<std::unique_ptr<Runtime>> Create(const RuntimeOptions& options);
  ~Runtime();

  // Creates a container from a validated spec (the service checked every field).
  // NOT_FOUND when the image is unknown; ALREADY_EXISTS when the name is taken.
  absl::StatusOr<ContainerRecord> CreateContainer(const v1::ContainerSpec& spec);

  // Starts a CREATED container and blocks until the workload runs or starting failed; a
  // failure is a FAILED record, not an error. FAILED_PRECONDITION in any other state.
  absl::StatusOr<ContainerRecord> Start(const std::string& ref);

  absl::StatusOr<ContainerRecord> Get(const std::string& ref) const;
  absl::StatusOr<std::vector<ContainerRecord>> List() const;

  // Calls `done` once the container is not running (at once if it is not).
  void Wait(const std::string& ref, RecordCallback done);

  // Sends `signal` to the workload, waits up to `grace`, then SIGKILLs the container and
  // waits for it to exit. A container that is not running is returned as it is.
  absl::StatusOr<ContainerRecord> Stop(const std::string& ref, absl::Duration grace, int signal);

  // Sends one signal (SIGKILL ends the whole container). FAILED_PRECONDITION unless running.
  absl::Status Kill(const std::string& ref, int signal);

  // Current resource usage read from the container's cgroup. FAILED_PRECONDITION unless it
  // is running (also when it exits while being read: its cgroup is gone).
  absl::StatusOr<ContainerStats> Stats(const std::string& ref) const;
  // The processes of a running container; FAILED_PRECONDITION when it is not running.
  absl::StatusOr<ContainerProcesses> Top(const std::string& ref) const;

  // Starts a command in a running container (its namespaces, root, cgroup and hardening)
  // through the container's exec server, started on the first exec (or a `quilt-monitor
  // exec` helper when none can be started); the caller streams its pipes. NOT_FOUND for an
  // unknown ref, FAILED_PRECONDITION unless running, INVALID_ARGUMENT for an unknown user.
  // BeginExec then FinishExec.
  absl::StatusOr<ExecProcess> StartExec(const std::string& ref, const ExecOptions& options);
  // StartExec's first step, which waits for no other process (fit for a gRPC thread):
  // resolves and checks the container, builds the exec's config and, when the container's
  // exec server listens, sends it the request. The errors of StartExec's checks.
  absl::StatusOr<PendingExec> BeginExec(const std::string& ref, const ExecOptions& options);
  // The second step, which may wait (for the server's answer; on a first exec for a server
  // to start, which can take tens of milliseconds): the running exec.
  absl::StatusOr<ExecProcess> FinishExec(PendingExec pending);

  // Connects to the workload of a running container created with tty or stdin_open, through
  // its monitor (quiltd/runtime/attach_client.h). NOT_FOUND for an unknown ref,
  // FAILED_PRECONDITION unless running and interactive.
  absl::StatusOr<AttachConnection> Attach(const std::string& ref);

  // Opens the root of a container for copying files in (`write`) or out: a running one's
  // through its init's /proc/<pid>/root (checked against the init's pidfd), a stopped one's
  // as its overlay mounted detached (quiltd/copy/detached_overlay.h), holding the container
  // claimed meanwhile. NOT_FOUND for an unknown ref; FAILED_PRECONDITION while it is being
  // started or removed, or to write into a read-only rootfs.
  absl::StatusOr<CopyRoot> OpenCopyRoot(const std::string& ref, bool write);

  // Removes a container and all it owns; returns its id. FAILED_PRECONDITION when it is
  // running (unless `force`) or starting.
  absl::StatusOr<std::string> Remove(const std::string& ref, bool force);

  // The log file of a container and whether it can still grow.
  absl::StatusOr<std::string> LogPath(const std::string& ref) const;
  // True once the container can write no more output (exited, failed, removed).
  bool LogComplete(const std::string& id) const;
  LogWatcher& log_watcher() { return *log_watcher_; }

  // Imports an image (see ImageStore::Import; `meter`, if given, follows it) and records the
  // image_imported event.
  absl::StatusOr<ImportResult> ImportImage(const std::string& path, const std::string& name,
                                           const std::string& tag, ProgressMeter* meter = nullptr);
  std::vector<ImageRecord> ListImages() const;
  // Returns the removed digest. FAILED_PRECONDITION while a container uses it, unless `force`.
  absl::StatusOr<std::string> RemoveImage(const std::string& ref, bool force);
  // Removes the images no container uses: unnamed ones, or with `all` every one. Returns
  // the removed images.
  absl::StatusOr<std::vector<ImageRecord>> PruneImages(bool all);

  std::string CgroupModeName() const { return cgroups_->ModeName(); }

  // Lifecycle events: persisted history and live feed.
  EventLog& events() { return *events_; }

 private:
  // What quiltd holds in memory for a started container.
  struct Live {
    bool busy = false;  // a Start or Remove is in progress
    UniqueFd init_pidfd;
    std::vector<RecordCallback> waiters;
  };

  Runtime(RuntimeOptions options, std::unique_ptr<StateStore> store,
          std::unique_ptr<ImageStore> images, std::unique_ptr<CgroupManager> cgroups,
          std::unique_ptr<ExitWatcher> exit_watcher, std::unique_ptr<LogWatcher> log_watcher,
          std::unique_ptr<Trash> trash, SeccompPrograms seccomp);

  absl::StatusOr<ImageRecord> ResolveImage(const std::string& ref);
  // Replaces spec.userns "auto" with a free range of the pool (call with userns_mu_ held
  // until the row is inserted) and checks that the user's ids are mapped.
  absl::Status ResolveUserns(v1::ContainerSpec* spec, const ResolvedUser& user) const;
  absl::StatusOr<std::vector<IdRange>> UsernsRangesInUse() const;
  absl::StatusOr<MonitorConfig> BuildMonitorConfig(const ContainerRecord& record,
                                                   const v1::ContainerSpec& spec,
                                                   const CgroupPlacement& placement) const;
  absl::StatusOr<std::optional<LaunchedMonitor>> StartOnSpare(ContainerRecord& record,
                                                              const v1::ContainerSpec& spec,
                                                              const CgroupLimits& limits,
                                                              UniqueFd* start_pipe);
  absl::StatusOr<LaunchedMonitor> SpawnMonitor(ContainerRecord& record,
                                               const v1::ContainerSpec& spec,
                                               const CgroupLimits& limits, UniqueFd* start_pipe);
  absl::StatusOr<ContainerRecord> FinishRunningStart(ContainerRecord record,
                                                     LaunchedMonitor monitor);
  // The end of BeginExec (runtime_exec.cc): `exec_config` is built on `container_config`, the
  // text of the container's config.json.
  absl::StatusOr<PendingExec> OfferExec(const ContainerRecord& record, std::string container_config,
                                        const MonitorConfig& exec_config, const ExecIo& io);
  // The fallback: a one-shot `quilt-monitor exec` helper; logs `why` there was no server.
  absl::StatusOr<ExecProcess> RunExecHelper(const ContainerRecord& record,
                                            const std::string& exec_config, const ExecIo& io,
                                            const absl::Status& why);
  // A new pidfd of a running container's init; FAILED_PRECONDITION when it is gone.
  absl::StatusOr<UniqueFd> InitPidfd(const ContainerRecord& record, absl::string_view verb);
  absl::Status WatchMonitor(const std::string& id, UniqueFd pidfd);
  // Records a container's end from its exit file (monitor gone) and wakes its waiters.
  void OnMonitorExit(const std::string& id);
  void Recover();
  void RecoverContainer(ContainerRecord record);
  // Adopts, finishes or resets a CREATED container whose monitor may have been spawned but
  // was never recorded.
  void RecoverInterruptedStart(ContainerRecord record);
  void RemoveOrphans();
  // Persists events that go with no state change; a failure is logged, not returned.
  void RecordEvents(std::vector<EventRecord> events);
  // Marks `id` busy; FAILED_PRECONDITION when a Start, Remove or copy holds it.
  absl::Status Claim(const std::string& id);
  void Release(const std::string& id);
  absl::StatusOr<CopyRoot> OpenRunningRoot(const ContainerRecord& record);
  absl::StatusOr<CopyRoot> OpenStoppedRoot(const ContainerRecord& record);
  // Fails a record that cannot run any more and cleans up its cgroup.
  ContainerRecord MarkFailed(ContainerRecord record, const std::string& reason,
                             const std::string& message);

  std::string ContainersDir() const { return options_.state_dir + "/containers"; }

  const RuntimeOptions options_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<EventLog> events_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<CgroupManager> cgroups_;
  std::unique_ptr<ExitWatcher> exit_watcher_;
  std::unique_ptr<LogWatcher> log_watcher_;
  std::unique_ptr<Trash> trash_;   // removed bundles, deleted in the background
  const SeccompPrograms seccomp_;  // the default profile, compiled once
  MonitorLauncher launcher_;
  std::unique_ptr<SparePool> spares_;  // null without spares

  absl::Mutex default_image_mu_;  // one first-use import of the default image at a time
  absl::Mutex userns_mu_;         // one "auto" range pick-and-insert at a time
  // One exec server start per container at a time (striped by id).
  std::array<absl::Mutex, 16> exec_server_mu_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Live> live_ ABSL_GUARDED_BY(mu_);

  // Detached overlays of stopped containers being copied to or from, shared by concurrent
  // copies of one container (each holds a reference; the last one unmounts and releases).
  absl::Mutex copy_mounts_mu_;
  absl::flat_hash_map<std::string, std::weak_ptr<UniqueFd>> copy_mounts_
      ABSL_GUARDED_BY(copy_mounts_mu_);
};

}  // namespace quilt
