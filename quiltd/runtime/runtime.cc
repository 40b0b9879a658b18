#include "quiltd/runtime/runtime.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <optional>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/resource_limits.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "quiltd/monitor/capabilities.h"
#include "quiltd/runtime/bundle.h"
#include "quiltd/runtime/container_events.h"
#include "quiltd/runtime/user_resolver.h"

namespace quilt {
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// pids.max of a container whose spec leaves it at 0: a fork bomb stays inside its cgroup.
constexpr int64_t kDefaultPidsMax = 4096;
// Log rotation when the spec leaves it at 0: one container's log stays under 192 MiB.
constexpr int64_t kDefaultLogMaxBytes = 64 * 1024 * 1024;
constexpr int kDefaultLogMaxFiles = 3;
// A tmpfs mount the spec leaves unsized or without a mode: 64 MiB, and /tmp's mode.
constexpr int64_t kDefaultTmpfsBytes = 64 * 1024 * 1024;
constexpr uint32_t kDefaultTmpfsMode = 01777;
// How long to wait for a SIGKILLed container to be reported gone before giving up.
constexpr absl::Duration kKillTimeout = absl::Seconds(10);
// The open-files soft limit of a container whose spec sets none: what select() can handle,
// as systemd gives its services. quiltd raises its own soft limit (daemon/main.cc); a
// container inheriting that would break programs that loop over every possible fd.
constexpr rlim_t kDefaultNofileSoft = 1024;

std::string Short(const std::string& id) { return id.substr(0, 12); }

// What reading a container's cgroup says when the container is not running (any more).
absl::Status NotRunning(absl::string_view action, const std::string& id) {
  return absl::FailedPreconditionError(
      absl::StrCat(action, " ", Short(id), ": container is not running"));
}

const char* StateName(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated:
      return "created";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kExited:
      return "exited";
    case ContainerState::kFailed:
      return "failed";
  }
  return "unknown";
}

bool Finished(ContainerState state) {
  return state == ContainerState::kExited || state == ContainerState::kFailed;
}

// `env` with each of `overrides` ("K=V") replacing the entry of the same key or appended.
std::vector<std::string> OverrideEnv(std::vector<std::string> env,
                                     const std::vector<std::string>& overrides) {
  for (const std::string& entry : overrides) {
    const std::string key = entry.substr(0, entry.find('=') + 1);
    bool replaced = false;
    for (std::string& existing : env) {
      if (absl::StartsWith(existing, key)) {
        existing = entry;
        replaced = true;
      }
    }
    if (!replaced) env.push_back(entry);
  }
  return env;
}

// The workload's environment: defaults a shell user expects, overridden by the spec.
std::vector<std::string> BuildEnv(const v1::ContainerSpec& spec, const ResolvedUser& user) {
  return OverrideEnv({absl::StrCat("PATH=", kDefaultPath),
                      absl::StrCat("HOSTNAME=", spec.hostname()), absl::StrCat("HOME=", user.home)},
                     {spec.env().begin(), spec.env().end()});
}

// Fills what the spec leaves empty from the image's config, as docker does: the argv is the
// entrypoint (the spec's, else the image's) followed by the spec's command, or by the
// image's Cmd when the spec gives neither; the image's Env comes before the spec's.
absl::Status ApplyImageConfig(const ImageConfig& image, v1::ContainerSpec& spec) {
  std::vector<std::string> argv(spec.entrypoint().begin(), spec.entrypoint().end());
  if (argv.empty()) argv = image.entrypoint;
  if (!spec.command().empty()) {
    argv.insert(argv.end(), spec.command().begin(), spec.command().end());
  } else if (spec.entrypoint().empty()) {
    argv.insert(argv.end(), image.cmd.begin(), image.cmd.end());
  }
  if (argv.empty()) {
    return absl::InvalidArgumentError(
        "spec.command: required: the image has no Entrypoint or Cmd to run");
  }
  spec.clear_entrypoint();
  spec.mutable_command()->Assign(argv.begin(), argv.end());
  const std::vector<std::string> env =
      OverrideEnv(image.env, {spec.env().begin(), spec.env().end()});
  spec.mutable_env()->Assign(env.begin(), env.end());
  if (spec.working_dir().empty()) spec.set_working_dir(image.working_dir);
  if (spec.working_dir().empty()) spec.set_working_dir("/");
  if (spec.user().empty()) spec.set_user(image.user);
  return absl::OkStatus();
}

// The cgroup layer's pids limit for the spec's: 0 is the default, -1 no limit (its 0).
int64_t PidsLimit(const v1::Resources& resources) {
  if (resources.pids_max() == 0) return kDefaultPidsMax;
  return resources.pids_max() < 0 ? 0 : resources.pids_max();
}

absl::StatusOr<v1::ContainerSpec> SpecOf(const ContainerRecord& record) {
  v1::ContainerSpec spec;
  if (!spec.ParseFromString(record.spec)) {
    return absl::DataLossError(absl::StrCat("container ", Short(record.id), ": corrupt spec"));
  }
  return spec;
}

// A timerfd that becomes readable once, after `delay`; invalid if none could be made.
UniqueFd OneShotTimer(absl::Duration delay) {
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  itimerspec when{};
  when.it_value = absl::ToTimespec(delay);
  if (timer.valid() && ::timerfd_settime(timer.get(), 0, &when, nullptr) != 0) timer.Reset();
  return timer;
}

// The spec's resource limits, and the open-files default when it sets none: 1024 soft and
// quiltd's own hard limit, up to which a workload may raise its soft one.
absl::StatusOr<std::vector<ResourceLimit>> ContainerRlimits(const v1::ContainerSpec& spec) {
  std::vector<ResourceLimit> limits;
  bool nofile = false;
  for (const v1::Ulimit& ulimit : spec.ulimits()) {
    const std::optional<int> resource = ResourceLimitByName(ulimit.name());
    if (!resource.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("spec.ulimits: unknown limit ", ulimit.name()));
    }
    nofile = nofile || *resource == RLIMIT_NOFILE;
    limits.push_back({*resource, RlimFromApi(ulimit.soft()), RlimFromApi(ulimit.hard())});
  }
  if (!nofile) {
    rlimit own{};
    if (::getrlimit(RLIMIT_NOFILE, &own) != 0) return ErrnoStatus("getrlimit nofile");
    limits.push_back({RLIMIT_NOFILE, std::min(kDefaultNofileSoft, own.rlim_max), own.rlim_max});
  }
  return limits;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Runtime>> Runtime::Create(const RuntimeOptions& options) {
  QUILT_RETURN_IF_ERROR(MakeDirs(options.state_dir + "/containers", 0700));
  QUILT_ASSIGN_OR_RETURN(auto cgroups, CgroupManager::Create(options.cgroup_parent));
  QUILT_ASSIGN_OR_RETURN(auto store, StateStore::Open(options.state_dir));
  QUILT_ASSIGN_OR_RETURN(auto images, ImageStore::Open(options.state_dir, options.image_limits));
  QUILT_ASSIGN_OR_RETURN(auto exit_watcher, ExitWatcher::Create());
  QUILT_ASSIGN_OR_RETURN(auto log_watcher, LogWatcher::Create());
  QUILT_ASSIGN_OR_RETURN(auto trash, Trash::Open(options.state_dir + "/trash"));
  QUILT_ASSIGN_OR_RETURN(SeccompPrograms seccomp, SeccompPrograms::Compile());
  std::unique_ptr<Runtime> runtime(new Runtime(
      options, std::move(store), std::move(images), std::move(cgroups), std::move(exit_watcher),
      std::move(log_watcher), std::move(trash), std::move(seccomp)));
  QUILT_ASSIGN_OR_RETURN(runtime->events_, EventLog::Create(runtime->store_.get()));
  runtime->Recover();
  QUILT_ASSIGN_OR_RETURN(
      runtime->spares_,
      SparePool::Start(options.prestart, options.state_dir + "/spares", runtime->cgroups_.get(),
                       &runtime->launcher_, runtime->trash_.get()));
  return runtime;
}

Runtime::Runtime(RuntimeOptions options, std::unique_ptr<StateStore> store,
                 std::unique_ptr<ImageStore> images, std::unique_ptr<CgroupManager> cgroups,
                 std::unique_ptr<ExitWatcher> exit_watcher, std::unique_ptr<LogWatcher> log_watcher,
                 std::unique_ptr<Trash> trash, SeccompPrograms seccomp)
    : options_(std::move(options)),
      store_(std::move(store)),
      images_(std::move(images)),
      cgroups_(std::move(cgroups)),
      exit_watcher_(std::move(exit_watcher)),
      log_watcher_(std::move(log_watcher)),
      trash_(std::move(trash)),
      seccomp_(std::move(seccomp)),
      launcher_(options_.monitor_path) {}

// Stop watching before anything the callbacks touch goes away. Monitors keep running.
Runtime::~Runtime() {
  spares_.reset();
  exit_watcher_.reset();
  log_watcher_.reset();
}

absl::StatusOr<ImageRecord> Runtime::ResolveImage(const std::string& ref) {
  if (!ref.empty() && ref[0] == '/') {
    QUILT_ASSIGN_OR_RETURN(ImportResult imported, ImportImage(ref, "", ""));
    return imported.image;
  }
  if (!ref.empty()) return images_->Resolve(ref);
  absl::MutexLock lock(&default_image_mu_);
  absl::StatusOr<ImageRecord> existing = images_->Resolve("default");
  if (existing.ok() || existing.status().code() != absl::StatusCode::kNotFound) return existing;
  if (options_.default_image_path.empty()) {
    return absl::FailedPreconditionError("no image given and no default image configured");
  }
  absl::StatusOr<ImportResult> imported = ImportImage(options_.default_image_path, "default", "");
  if (!imported.ok()) return Annotate(imported.status(), "import the default image");
  return imported->image;
}

absl::StatusOr<ContainerRecord> Runtime::CreateContainer(const v1::ContainerSpec& requested) {
  QUILT_ASSIGN_OR_RETURN(ImageRecord image, ResolveImage(requested.image()));
  v1::ContainerSpec spec = requested;
  ContainerRecord record;
  record.id = NewContainerId();
  if (spec.hostname().empty()) spec.set_hostname(Short(record.id));
  if (spec.network() == v1::NETWORK_MODE_UNSPECIFIED) spec.set_network(v1::NETWORK_MODE_NONE);
  if (spec.log_max_bytes() == 0) spec.set_log_max_bytes(kDefaultLogMaxBytes);
  if (spec.log_max_files() == 0) spec.set_log_max_files(kDefaultLogMaxFiles);
  if (spec.shm_size_bytes() == 0) spec.set_shm_size_bytes(kDefaultShmBytes);
  for (v1::TmpfsMount& tmpfs : *spec.mutable_tmpfs()) {
    if (tmpfs.size_bytes() == 0) tmpfs.set_size_bytes(kDefaultTmpfsBytes);
    if (tmpfs.mode() == 0) tmpfs.set_mode(kDefaultTmpfsMode);
  }
  for (int i = 0; i < spec.mounts_size(); ++i) {
    struct stat st;
    if (::stat(spec.mounts(i).source().c_str(), &st) != 0) {
      return ErrnoStatus(EINVAL, absl::StrCat("spec.mounts[", i, "].source ",
                                              spec.mounts(i).source(), ": ", strerror(errno)));
    }
  }
  QUILT_RETURN_IF_ERROR(ApplyImageConfig(image.config, spec));
  // Resolve the user now so that a bad one fails Create, not a later Start.
  QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> lower_dirs,
                         images_->LowerDirs(image.digest));
  QUILT_ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(lower_dirs, spec.user()));
  // Held until the row is in, so that two Creates never pick the same "auto" range.
  absl::MutexLockMaybe userns_lock(spec.userns() == "auto" ? &userns_mu_ : nullptr);
  QUILT_RETURN_IF_ERROR(ResolveUserns(&spec, user));

  const Bundle bundle(ContainersDir(), record.id);
  auto remove_bundle = absl::MakeCleanup([&] { (void)RemoveTree(bundle.dir); });
  for (const auto& [dir, mode] : {std::pair{bundle.dir, 0700},
                                  {bundle.upper(), 0755},
                                  {bundle.work(), 0700},
                                  {bundle.rootfs(), 0755}}) {
    if (::mkdir(dir.c_str(), mode) != 0) return ErrnoStatus(absl::StrCat("mkdir ", dir));
  }
  record.name = spec.name();
  record.image_digest = image.digest;
  spec.SerializeToString(&record.spec);
  record.state = ContainerState::kCreated;
  record.created_at_ns = absl::GetCurrentTimeNanos();
  QUILT_RETURN_IF_ERROR(store_->Insert(record, {ContainerEvent(EventType::kCreated, record)}));
  std::move(remove_bundle).Cancel();
  QUILT_LOG(INFO) << "created container " << record.id
                  << (record.name.empty() ? "" : " name=" + record.name);
  return record;
}

absl::StatusOr<MonitorConfig> Runtime::BuildMonitorConfig(const ContainerRecord& record,
                                                          const v1::ContainerSpec& spec,
                                                          const CgroupPlacement& placement) const {
  absl::StatusOr<std::vector<std::string>> lower_dirs = images_->LowerDirs(record.image_digest);
  if (!lower_dirs.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "image ", record.image_digest, " was removed: ", lower_dirs.status().message()));
  }
  QUILT_ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(*lower_dirs, spec.user()));
  const Bundle bundle(ContainersDir(), record.id);
  MonitorConfig config;
  config.container_id = record.id;
  config.bundle_dir = bundle.dir;
  config.lower_dirs = *std::move(lower_dirs);
  config.upper_dir = bundle.upper();
  config.work_dir = bundle.work();
  config.rootfs_dir = bundle.rootfs();
  config.read_only_rootfs = spec.read_only_rootfs();
  config.shm_size_bytes = spec.shm_size_bytes();
  for (const v1::TmpfsMount& tmpfs : spec.tmpfs()) {
    config.tmpfs.push_back({tmpfs.destination(), tmpfs.size_bytes(), tmpfs.mode(), tmpfs.exec()});
  }
  for (const v1::Mount& mount : spec.mounts()) {
    config.mounts.push_back({mount.source(), mount.destination(), mount.read_only()});
  }
  config.hostname = spec.hostname();
  config.new_network = spec.network() != v1::NETWORK_MODE_HOST;
  config.argv.assign(spec.command().begin(), spec.command().end());
  config.env = BuildEnv(spec, user);
  config.working_dir = spec.working_dir();
  config.uid = user.uid;
  config.gid = user.gid;
  config.additional_gids = user.additional_gids;
  config.tty = spec.tty();
  config.stdin_open = spec.stdin_open();
  config.setup.assign(spec.setup().begin(), spec.setup().end());
  QUILT_ASSIGN_OR_RETURN(config.capabilities,
                         ResolveCapabilities({spec.cap_add().begin(), spec.cap_add().end()},
                                             {spec.cap_drop().begin(), spec.cap_drop().end()}));
  if (spec.seccomp() != "unconfined") config.seccomp_program = seccomp_.For(config.capabilities);
  QUILT_ASSIGN_OR_RETURN(config.rlimits, ContainerRlimits(spec));
  config.cgroup_procs_files = placement.procs_files;
  config.cgroup_v2_dir = placement.v2_dir;
  QUILT_ASSIGN_OR_RETURN(UsernsRequest userns, ParseUserns(spec.userns()));
  if (userns.mode == UsernsMode::kAuto) {
    return absl::InternalError("spec.userns: \"auto\" was never resolved");
  }
  config.userns_host_id = userns.range.host_id;
  config.userns_size = userns.range.size;
  config.log_path = bundle.log();
  config.log_max_bytes = spec.log_max_bytes();
  config.log_max_files = spec.log_max_files();
  config.state_path = bundle.state();
  config.exit_path = bundle.exit();
  return config;
}

absl::Status Runtime::Claim(const std::string& id) {
  absl::MutexLock lock(&mu_);
  Live& live = live_[id];
  if (live.busy) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", Short(id),
                     " is busy: being started, removed, or copied to or from while stopped"));
  }
  live.busy = true;
  return absl::OkStatus();
}

void Runtime::Release(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = live_.find(id);
  if (it != live_.end()) it->second.busy = false;
}

absl::StatusOr<ContainerRecord> Runtime::Start(const std::string& ref) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  const std::string id = record.id;
  QUILT_RETURN_IF_ERROR(Claim(id));
  auto release = absl::MakeCleanup([this, id] { Release(id); });
  // Re-read under the claim: another Start may have finished between Resolve and Claim.
  QUILT_ASSIGN_OR_RETURN(record, store_->Get(id));
  if (record.state != ContainerState::kCreated) {
    return absl::FailedPreconditionError(absl::StrCat("start ", Short(record.id), ": container is ",
                                                      StateName(record.state),
                                                      " (only created containers can be started)"));
  }
  QUILT_ASSIGN_OR_RETURN(v1::ContainerSpec spec, SpecOf(record));
  CgroupLimits limits;
  limits.memory_bytes = spec.resources().memory_bytes();
  limits.cpus = spec.resources().cpus();
  limits.pids_max = PidsLimit(spec.resources());
  UniqueFd start_pipe;
  QUILT_ASSIGN_OR_RETURN(std::optional<LaunchedMonitor> monitor,
                         StartOnSpare(record, spec, limits, &start_pipe));
  const bool on_spare = monitor.has_value();
  if (!on_spare) {
    QUILT_ASSIGN_OR_RETURN(monitor, SpawnMonitor(record, spec, limits, &start_pipe));
  }

  const StartReport report = MonitorLauncher::AwaitReport(start_pipe);
  if (on_spare) spares_->Replenish();
  if (report.kind == StartReport::kRunning) {
    record.init_pid = report.init_pid;
    return FinishRunningStart(std::move(record), *std::move(monitor));
  }
  // The monitor writes exit.json and exits right after a failure report: reap it here. A
  // monitor that died without one gets an exit file from its report.
  ::waitpid(monitor->pid, nullptr, 0);
  const std::string exit_path = Bundle(ContainersDir(), record.id).exit();
  if (!ReadFile(exit_path).ok()) {
    MonitorExit exit;
    exit.reason = "StartFailed";
    exit.message = DescribeStartFailure(report);
    exit.exit_code = 125;
    exit.finished_at_ns = absl::GetCurrentTimeNanos();
    QUILT_RETURN_IF_ERROR(WriteFileAtomically(exit_path, SerializeMonitorExit(exit)));
  }
  OnMonitorExit(record.id);
  return store_->Get(record.id);
}

// The fast start (spare_pool.h): nothing when no spare fits or is ready. A failure before the
// claim dismisses the spare and leaves the container as it was, for the cold start.
absl::StatusOr<std::optional<LaunchedMonitor>> Runtime::StartOnSpare(ContainerRecord& record,
                                                                     const v1::ContainerSpec& spec,
                                                                     const CgroupLimits& limits,
                                                                     UniqueFd* start_pipe) {
  if (spares_ == nullptr || !SparePool::Fits(spec)) return std::nullopt;
  std::optional<Spare> spare = spares_->Take();
  if (!spare.has_value()) return std::nullopt;
  auto dismiss = absl::MakeCleanup([&] { spares_->Dismiss(*std::move(spare)); });
  // The init is in its cgroups already; the placement is for execs, which join them.
  QUILT_ASSIGN_OR_RETURN(MonitorConfig config,
                         BuildMonitorConfig(record, spec, cgroups_->PlacementOf(record.id)));
  QUILT_RETURN_IF_ERROR(MonitorLauncher::WriteConfig(config));
  if (absl::Status adopted = cgroups_->AdoptSpare(spare->name, record.id, limits); !adopted.ok()) {
    // Some of its cgroups may carry the container's name already.
    (void)cgroups_->RemoveContainer(record.id);
    QUILT_LOG(WARNING) << "container " << record.id << ": " << adopted << " (starting it cold)";
    return std::nullopt;
  }
  // Recorded before the claim: a restarted quiltd must find the monitor that runs it.
  record.monitor_pid = spare->monitor.pid;
  record.monitor_start_ticks = spare->monitor.start_ticks;
  if (absl::Status updated = store_->Update(record); !updated.ok()) {
    (void)cgroups_->RemoveContainer(record.id);
    return updated;
  }
  std::move(dismiss).Cancel();
  // A spare that died just now ends this start like a monitor that died: without a report.
  if (absl::Status claimed = spares_->Claim(*spare, Bundle(ContainersDir(), record.id).dir);
      !claimed.ok()) {
    QUILT_LOG(WARNING) << "container " << record.id << ": " << claimed;
  }
  *start_pipe = std::move(spare->start_pipe);
  return std::move(spare->monitor);
}

// The cold start: the container's cgroups, then a new monitor that clones its init.
absl::StatusOr<LaunchedMonitor> Runtime::SpawnMonitor(ContainerRecord& record,
                                                      const v1::ContainerSpec& spec,
                                                      const CgroupLimits& limits,
                                                      UniqueFd* start_pipe) {
  QUILT_ASSIGN_OR_RETURN(CgroupPlacement placement, cgroups_->CreateContainer(record.id, limits));
  auto remove_cgroup = absl::MakeCleanup([&] { (void)cgroups_->RemoveContainer(record.id); });

  QUILT_ASSIGN_OR_RETURN(MonitorConfig config, BuildMonitorConfig(record, spec, placement));
  QUILT_ASSIGN_OR_RETURN(
      LaunchedMonitor monitor,
      launcher_.Spawn(config, Bundle(ContainersDir(), record.id).monitor_log(), start_pipe));
  std::move(remove_cgroup).Cancel();
  // Until the store knows this monitor nothing could ever find it again, so a failure takes
  // it down: emptying the cgroup ends the init (the monitor then exits by itself), SIGKILL
  // covers a monitor that had not cloned yet.
  auto abandon_monitor = absl::MakeCleanup([&] {
    (void)cgroups_->RemoveContainer(record.id);
    (void)SignalPidfd(monitor.pidfd.get(), SIGKILL);
    ::waitpid(monitor.pid, nullptr, 0);
  });
  // Recorded before waiting, so a restarted quiltd finds and adopts this monitor.
  record.monitor_pid = monitor.pid;
  record.monitor_start_ticks = monitor.start_ticks;
  QUILT_RETURN_IF_ERROR(store_->Update(record));
  std::move(abandon_monitor).Cancel();
  return monitor;
}

absl::StatusOr<ContainerRecord> Runtime::FinishRunningStart(ContainerRecord record,
                                                            LaunchedMonitor monitor) {
  const Bundle bundle(ContainersDir(), record.id);
  absl::StatusOr<std::string> state_text = ReadFile(bundle.state());
  absl::StatusOr<MonitorState> state =
      state_text.ok() ? ParseMonitorState(*state_text) : state_text.status();
  record.state = ContainerState::kRunning;
  record.started_at_ns = state.ok() ? state->started_at_ns : absl::GetCurrentTimeNanos();
  absl::StatusOr<UniqueFd> init_pidfd = OpenPidfd(record.init_pid);
  record.init_start_ticks = ProcessStartTicks(record.init_pid).value_or(0);
  if (absl::Status updated = store_->Update(record, {StartedEvent(record)}); !updated.ok()) {
    // No client may be told that a container runs while the store says otherwise (a full
    // disk): end it, and let its exit be recorded as usual.
    if (init_pidfd.ok()) (void)SignalPidfd(init_pidfd->get(), SIGKILL);
    (void)WatchMonitor(record.id, std::move(monitor.pidfd));
    return updated;
  }
  {
    absl::MutexLock lock(&mu_);
    if (init_pidfd.ok()) live_[record.id].init_pidfd = std::move(*init_pidfd);
  }
  QUILT_RETURN_IF_ERROR(WatchMonitor(record.id, std::move(monitor.pidfd)));
  QUILT_LOG(INFO) << "started container " << record.id << " init pid " << record.init_pid;
  return record;
}

void Runtime::RecordEvents(std::vector<EventRecord> events) {
  if (absl::Status s = store_->AppendEvents(std::move(events)); !s.ok()) {
    QUILT_LOG(WARNING) << "record event: " << s;
  }
}

absl::Status Runtime::WatchMonitor(const std::string& id, UniqueFd pidfd) {
  return exit_watcher_->Watch(std::move(pidfd), [this, id] { OnMonitorExit(id); });
}

ContainerRecord Runtime::MarkFailed(ContainerRecord record, const std::string& reason,
                                    const std::string& message) {
  record.state = ContainerState::kFailed;
  record.reason = reason;
  record.message = message;
  record.finished_at_ns = absl::GetCurrentTimeNanos();
  return record;
}

void Runtime::OnMonitorExit(const std::string& id) {
  absl::StatusOr<ContainerRecord> found = store_->Get(id);
  if (!found.ok()) return;
  ContainerRecord record = *std::move(found);
  const ContainerState was = record.state;
  const Bundle bundle(ContainersDir(), id);
  absl::StatusOr<std::string> text = ReadFile(bundle.exit());
  absl::StatusOr<MonitorExit> exit =
      text.ok() ? ParseMonitorExit(*text) : absl::StatusOr<MonitorExit>(text.status());
  if (!exit.ok()) {
    record = MarkFailed(std::move(record), "MonitorLost",
                        "the container's monitor exited without recording its end");
  } else {
    record.exit_code = exit->exit_code;
    record.exit_signal = exit->signal;
    record.finished_at_ns = exit->finished_at_ns;
    record.message = exit->message;
    if (exit->reason == "Exited") {
      record.state = ContainerState::kExited;
      const bool oom = exit->signal == SIGKILL && cgroups_->OomKills(id) > 0;
      record.reason = oom ? "OOMKilled" : (exit->signal != 0 ? "Killed" : "Exited");
    } else {
      record.state = ContainerState::kFailed;
      record.reason = exit->reason;
    }
  }
  const pid_t init_pid = std::exchange(record.init_pid, 0);
  if (absl::Status removed = cgroups_->RemoveContainer(id); !removed.ok()) {
    QUILT_LOG(WARNING) << "container " << id << ": " << removed;
  }
  // A monitor that died without an exit file took its init down (PDEATHSIG), and the init
  // was reparented to quiltd, a child subreaper: reap it, or it stays a zombie.
  if (!exit.ok() && !AwaitExitAndReap(init_pid, record.init_start_ticks, 5000)) {
    QUILT_LOG(WARNING) << "container " << id << ": init " << init_pid << " outlived its monitor";
  }
  if (absl::Status updated = store_->Update(record, EndEvents(was, record)); !updated.ok()) {
    QUILT_LOG(ERROR) << "record exit of container " << id << ": " << updated;
    // A row left RUNNING would never change again (its monitor is gone): on a full disk,
    // try again in a second, and wake the waiters only once the store holds the end.
    UniqueFd retry = OneShotTimer(absl::Seconds(1));
    if (absl::IsResourceExhausted(updated) && retry.valid() &&
        exit_watcher_->Watch(std::move(retry), [this, id] { OnMonitorExit(id); }).ok()) {
      return;
    }
  }
  std::vector<RecordCallback> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(id);
    if (it != live_.end()) {
      waiters = std::move(it->second.waiters);
      it->second.waiters.clear();
      it->second.init_pidfd.Reset();
      if (!it->second.busy) live_.erase(it);
    }
  }
  QUILT_LOG(INFO) << "container " << id << " " << record.reason << " code " << record.exit_code;
  log_watcher_->Notify(bundle.log());
  for (RecordCallback& waiter : waiters) waiter(record);
}

absl::StatusOr<ContainerRecord> Runtime::Get(const std::string& ref) const {
  return store_->Resolve(ref);
}

absl::StatusOr<std::vector<ContainerRecord>> Runtime::List() const { return store_->List(); }

void Runtime::Wait(const std::string& ref, RecordCallback done) {
  absl::StatusOr<ContainerRecord> record = store_->Resolve(ref);
  if (!record.ok()) return done(record.status());
  {
    absl::MutexLock lock(&mu_);
    // Read again under mu_: OnMonitorExit updates the store before it takes the waiters
    // under mu_, so either we see the end here or our waiter is taken and called.
    record = store_->Get(record->id);
    if (record.ok() && !Finished(record->state)) {
      live_[record->id].waiters.push_back(std::move(done));
      return;
    }
  }
  done(std::move(record));
}

absl::StatusOr<ContainerRecord> Runtime::Stop(const std::string& ref, absl::Duration grace,
                                              int signal) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  if (record.state != ContainerState::kRunning) return record;

  struct Outcome {
    absl::Notification done;
    absl::StatusOr<ContainerRecord> record;
  };
  auto outcome = std::make_shared<Outcome>();
  Wait(record.id, [outcome](absl::StatusOr<ContainerRecord> r) {
    outcome->record = std::move(r);
    outcome->done.Notify();
  });
  if (absl::Status sent = Kill(record.id, signal); !sent.ok() && !outcome->done.HasBeenNotified()) {
    QUILT_LOG(WARNING) << "stop " << record.id << ": " << sent;
  }
  if (!outcome->done.WaitForNotificationWithTimeout(grace)) {
    (void)Kill(record.id, SIGKILL);
    if (!outcome->done.WaitForNotificationWithTimeout(kKillTimeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("stop ", Short(record.id), ": still running after SIGKILL"));
    }
  }
  if (outcome->record.ok()) RecordEvents({ContainerEvent(EventType::kStopped, *outcome->record)});
  return outcome->record;
}

absl::StatusOr<UniqueFd> Runtime::InitPidfd(const ContainerRecord& record, absl::string_view verb) {
  absl::MutexLock lock(&mu_);
  // Only a container quiltd tracks caches its pidfd: creating an entry here for one that
  // just exited would keep a stale fd until Remove.
  auto it = live_.find(record.id);
  if (it == live_.end() || !it->second.init_pidfd) {
    absl::StatusOr<UniqueFd> fd = OpenPidfdIfSame(record.init_pid, record.init_start_ticks);
    if (!fd.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(verb, " ", Short(record.id), ": container init is gone"));
    }
    if (it == live_.end()) return fd;
    it->second.init_pidfd = *std::move(fd);
  }
  // A copy, so that the caller may use it without holding mu_.
  UniqueFd copy(::fcntl(it->second.init_pidfd.get(), F_DUPFD_CLOEXEC, 0));
  if (!copy.valid()) return ErrnoStatus(absl::StrCat(verb, " ", Short(record.id), ": dup pidfd"));
  return copy;
}

absl::Status Runtime::Kill(const std::string& ref, int signal) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  if (record.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("kill ", Short(record.id), ": container is ", StateName(record.state)));
  }
  QUILT_ASSIGN_OR_RETURN(UniqueFd pidfd, InitPidfd(record, "kill"));
  // The init forwards catchable signals to the workload; SIGKILL ends the init and with
  // it, by the kernel, every process in the container's pid namespace.
  // Recorded before sending, so it comes before the EXITED event the signal may cause.
  EventRecord killed = ContainerEvent(EventType::kKilled, record);
  killed.signal = signal;
  RecordEvents({std::move(killed)});
  absl::Status sent = SignalPidfd(pidfd.get(), signal);
  if (absl::IsNotFound(sent)) return absl::OkStatus();  // exited meanwhile: nothing to do
  return sent;
}

absl::StatusOr<ContainerStats> Runtime::Stats(const std::string& ref) const {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  if (record.state != ContainerState::kRunning) return NotRunning("read stats of", record.id);
  absl::StatusOr<CgroupStats> usage = cgroups_->Stats(record.id);
  // The exit path removes the cgroup: a container that exits between the state check and
  // the read is reported like one that was not running.
  if (absl::IsNotFound(usage.status())) return NotRunning("read stats of", record.id);
  QUILT_RETURN_IF_ERROR(usage.status());
  return ContainerStats{record.id, *usage};
}

absl::StatusOr<ContainerProcesses> Runtime::Top(const std::string& ref) const {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  if (record.state != ContainerState::kRunning) return NotRunning("list processes of", record.id);
  absl::StatusOr<std::vector<int>> pids = cgroups_->Processes(record.id);
  // As in Stats: the cgroup goes with the container's end.
  if (absl::IsNotFound(pids.status())) return NotRunning("list processes of", record.id);
  QUILT_RETURN_IF_ERROR(pids.status());
  return ContainerProcesses{record.id,
                            DescribeProcesses(*pids, CgroupManager::PathMarker(record.id))};
}

absl::StatusOr<PendingExec> Runtime::BeginExec(const std::string& ref, const ExecOptions& options) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  if (record.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("exec in ", Short(record.id), ": container is ", StateName(record.state)));
  }
  // The container's own config.json is the exec's base: same root, cgroup, capabilities
  // and filter as the workload, with the exec's command and overrides on top.
  const Bundle bundle(ContainersDir(), record.id);
  QUILT_ASSIGN_OR_RETURN(std::string text, ReadFile(bundle.config()));
  QUILT_ASSIGN_OR_RETURN(MonitorConfig config, ParseMonitorConfig(text));
  config.argv = options.argv;
  config.env = OverrideEnv(std::move(config.env), options.env);
  if (!options.working_dir.empty()) config.working_dir = options.working_dir;
  if (!options.user.empty()) {
    QUILT_ASSIGN_OR_RETURN(const std::vector<std::string> lower_dirs,
                           images_->LowerDirs(record.image_digest));
    QUILT_ASSIGN_OR_RETURN(ResolvedUser user, ResolveUser(lower_dirs, options.user));
    config.uid = user.uid;
    config.gid = user.gid;
    config.additional_gids = user.additional_gids;
    if (config.userns_size > 0) {
      QUILT_RETURN_IF_ERROR(CheckIdsMapped(IdsOf(user), config.userns_size, "user"));
    }
  }
  return OfferExec(record, std::move(text), config, options.io);
}

absl::StatusOr<AttachConnection> Runtime::Attach(const std::string& ref) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  v1::ContainerSpec spec;
  if (!spec.ParseFromString(record.spec)) {
    return absl::InternalError(absl::StrCat("attach to ", Short(record.id), ": unreadable spec"));
  }
  if (!spec.tty() && !spec.stdin_open()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "attach to ", Short(record.id), ": container was created without tty or stdin_open"));
  }
  if (record.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("attach to ", Short(record.id), ": container is ", StateName(record.state)));
  }
  const Bundle bundle(ContainersDir(), record.id);
  absl::StatusOr<AttachConnection> connection = ConnectAttach(bundle.attach());
  // The monitor stops listening as the workload ends: that is a container not running.
  if (absl::IsUnavailable(connection.status())) {
    return absl::FailedPreconditionError(
        absl::StrCat("attach to ", Short(record.id), ": ", connection.status().message()));
  }
  if (connection.ok()) connection->exit_path = bundle.exit();
  return connection;
}

absl::StatusOr<std::string> Runtime::Remove(const std::string& ref, bool force) {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  const std::string id = record.id;
  QUILT_RETURN_IF_ERROR(Claim(id));
  auto release = absl::MakeCleanup([this, id] { Release(id); });
  QUILT_ASSIGN_OR_RETURN(record, store_->Get(id));
  if (record.state == ContainerState::kRunning) {
    if (!force) {
      return absl::FailedPreconditionError(
          absl::StrCat("remove ", Short(id), ": container is running (stop it first, or force)"));
    }
    QUILT_ASSIGN_OR_RETURN(record, Stop(id, absl::ZeroDuration(), SIGKILL));
  }
  QUILT_RETURN_IF_ERROR(cgroups_->RemoveContainer(id));
  const Bundle bundle(ContainersDir(), id);
  QUILT_RETURN_IF_ERROR(trash_->Discard(bundle.dir));
  QUILT_RETURN_IF_ERROR(store_->Delete(id, {ContainerEvent(EventType::kRemoved, record)}));
  std::vector<RecordCallback> waiters;
  {
    absl::MutexLock lock(&mu_);
    auto it = live_.find(id);
    if (it != live_.end()) {
      waiters = std::move(it->second.waiters);
      live_.erase(it);
    }
  }
  std::move(release).Cancel();
  log_watcher_->Notify(bundle.log());
  for (RecordCallback& waiter : waiters) {
    waiter(absl::NotFoundError(absl::StrCat("container ", Short(id), " was removed")));
  }
  QUILT_LOG(INFO) << "removed container " << id;
  return id;
}

absl::StatusOr<std::string> Runtime::LogPath(const std::string& ref) const {
  QUILT_ASSIGN_OR_RETURN(ContainerRecord record, store_->Resolve(ref));
  return Bundle(ContainersDir(), record.id).log();
}

bool Runtime::LogComplete(const std::string& id) const {
  absl::StatusOr<ContainerRecord> record = store_->Get(id);
  return !record.ok() || Finished(record->state);
}

absl::StatusOr<ImportResult> Runtime::ImportImage(const std::string& path, const std::string& name,
                                                  const std::string& tag, ProgressMeter* meter) {
  QUILT_ASSIGN_OR_RETURN(ImportResult result, images_->Import(path, name, tag, meter));
  RecordEvents({ImageEvent(EventType::kImageImported, result.image)});
  return result;
}

std::vector<ImageRecord> Runtime::ListImages() const { return images_->List(); }

absl::StatusOr<std::string> Runtime::RemoveImage(const std::string& ref, bool force) {
  QUILT_ASSIGN_OR_RETURN(ImageRecord image, images_->Resolve(ref));
  QUILT_ASSIGN_OR_RETURN(std::vector<ContainerRecord> containers, store_->List());
  for (const ContainerRecord& c : containers) {
    if (c.image_digest != image.digest) continue;
    // A running container's rootfs sits on the image: never pull it away, even forced.
    if (!force || c.state == ContainerState::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("remove image ", image.digest.substr(0, 19), ": used by container ",
                       Short(c.id), force ? " (running)" : " (remove it first, or force)"));
    }
  }
  QUILT_RETURN_IF_ERROR(images_->Remove(image.digest));
  RecordEvents({ImageEvent(EventType::kImageRemoved, image)});
  return image.digest;
}

absl::StatusOr<std::vector<ImageRecord>> Runtime::PruneImages(bool all) {
  QUILT_ASSIGN_OR_RETURN(std::vector<ContainerRecord> containers, store_->List());
  absl::flat_hash_set<std::string> used;
  for (const ContainerRecord& c : containers) used.insert(c.image_digest);
  std::vector<ImageRecord> removed;
  std::vector<EventRecord> events;
  absl::Status status;
  for (const ImageRecord& image : images_->List()) {
    if (used.contains(image.digest) || (!all && !image.names.empty())) continue;
    status = images_->Remove(image.digest);
    if (!status.ok()) break;
    removed.push_back(image);
    events.push_back(ImageEvent(EventType::kImageRemoved, image));
  }
  // The images removed before a failure are gone all the same: their events are recorded.
  RecordEvents(std::move(events));
  if (!status.ok()) return status;
  return removed;
}

}  // namespace quilt
