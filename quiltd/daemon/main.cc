// quiltd: the Quilt daemon. Serves quilt.v1 on a Unix socket until SIGTERM/SIGINT.
#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/defaults.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/thread_pool.h"
#include "quiltd/daemon/api_listener.h"
#include "quiltd/daemon/callback_poller_keepalive.h"
#include "quiltd/daemon/instance_lock.h"
#include "quiltd/runtime/runtime.h"
#include "quiltd/service/api_access.h"
#include "quiltd/service/containers_service.h"
#include "quiltd/service/images_service.h"
#include "quiltd/service/peer_credentials.h"

namespace quilt {
namespace {

// Blocking work (starts, stops, imports) runs here; gRPC threads never block.
constexpr int kPoolThreads = 16;

struct Flags {
  std::string socket = SocketFromEnv();
  std::string state_dir = StateDirFromEnv();
  std::string cgroup_parent;
  std::string log_level = "info";
  std::string default_image;
  std::string monitor_path;
  ExtractLimits image_limits;
  std::string userns_range;
  std::string socket_group = "quilt";
  int prestart = 2;
};

std::string DirOfSelf() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The built-in busybox rootfs: next to an installed quiltd, else the build tree's copy.
std::string DefaultImagePath() {
  for (const std::string& candidate :
       {DirOfSelf() + "/../share/quilt/default-rootfs.tar",
        std::string(QUILT_DEFAULT_IMAGE_INSTALLED), std::string(QUILT_DEFAULT_IMAGE_BUILD)}) {
    if (Exists(candidate)) return candidate;
  }
  return "";
}

// Fills whichever of fds 0-2 quiltd was started without with /dev/null, so that no file it
// opens later takes one of those numbers and is mistaken for stdio.
void EnsureStdio() {
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) (void)::open("/dev/null", O_RDWR);
  }
}

// Raises the open-files soft limit to the hard one: quiltd holds a few descriptors per
// running container (pidfds, log followers), and the usual soft limit of 1024 would refuse
// the 500th container. Containers get their own default (Runtime, spec.ulimits).
void RaiseOpenFilesLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t was = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    QUILT_LOG(WARNING) << "raise the open-files limit from " << was << ": " << strerror(errno);
    return;
  }
  QUILT_LOG(DEBUG) << "open-files limit raised from " << was << " to " << limit.rlim_cur;
}

absl::StatusOr<std::string> RealDir(const std::string& path) {
  QUILT_RETURN_IF_ERROR(MakeDirs(path, 0711));
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return ErrnoStatus(absl::StrCat("resolve ", path));
  }
  return std::string(resolved);
}

// The host ids "auto" user namespaces come from: the flag, else the "quilt" entry of
// /etc/subuid (used for gids too), else none.
absl::StatusOr<IdRange> UsernsPool(const std::string& flag) {
  if (!flag.empty()) return ParseIdRange(flag, "--userns-range", kUsernsSize);
  absl::StatusOr<IdRange> subuid = ReadSubordinateRange("/etc/subuid", "quilt");
  return subuid.ok() ? *subuid : IdRange{};
}

absl::Status Serve(const Flags& flags) {
  QUILT_ASSIGN_OR_RETURN(LogLevel level, ParseLogLevel(flags.log_level));
  SetLogLevel(level);
  RaiseOpenFilesLimit();
  QUILT_ASSIGN_OR_RETURN(std::string state_dir, RealDir(flags.state_dir));
  const std::string socket_dir = flags.socket.substr(0, flags.socket.rfind('/'));
  if (!socket_dir.empty()) QUILT_RETURN_IF_ERROR(MakeDirs(socket_dir, 0755));
  QUILT_ASSIGN_OR_RETURN(InstanceLock lock, InstanceLock::Acquire(state_dir, flags.socket));

  RuntimeOptions options;
  options.state_dir = state_dir;
  options.cgroup_parent = flags.cgroup_parent;
  options.monitor_path =
      flags.monitor_path.empty() ? DirOfSelf() + "/quilt-monitor" : flags.monitor_path;
  options.default_image_path =
      flags.default_image.empty() ? DefaultImagePath() : flags.default_image;
  options.image_limits = flags.image_limits;
  options.prestart = flags.prestart;
  QUILT_ASSIGN_OR_RETURN(options.userns_pool, UsernsPool(flags.userns_range));
  if (!Exists(options.monitor_path)) {
    return absl::NotFoundError(
        absl::StrCat("monitor binary ", options.monitor_path, " not found (use --monitor-path)"));
  }
  QUILT_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> runtime, Runtime::Create(options));

  ThreadPool pool(kPoolThreads);
  ContainersService containers(runtime.get(), &pool);
  ImagesService images(runtime.get(), &pool);
  SystemService system(runtime.get());
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // Connections are accepted by ApiListener, which knows each peer's credentials, and handed
  // to `server`, or to `refusing` (PERMISSION_DENIED for every call) when the peer is neither
  // root nor in the API group. Neither server listens itself.
  const std::optional<gid_t> api_group = LookUpGroup("/etc/group", flags.socket_group);
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> checks;
  checks.push_back(std::make_unique<PeerCheckInterceptorFactory>(api_group));
  builder.experimental().SetInterceptorCreators(std::move(checks));
  builder.RegisterService(containers.grpc_service());
  builder.RegisterService(images.grpc_service());
  builder.RegisterService(system.grpc_service());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  RefusingService refusal;
  grpc::ServerBuilder refusing_builder;
  refusing_builder.RegisterCallbackGenericService(&refusal);
  std::unique_ptr<grpc::Server> refusing = refusing_builder.BuildAndStart();
  if (server == nullptr || refusing == nullptr) return absl::InternalError("start gRPC servers");
  QUILT_ASSIGN_OR_RETURN(std::unique_ptr<ApiListener> listener,
                         ApiListener::Listen(flags.socket, api_group));
  listener->Start(server.get(), refusing.get());
  std::optional<CallbackPollerKeepAlive> keepalive(std::in_place, server.get());
  QUILT_LOG(INFO) << "quiltd " << QUILT_VERSION << " serving on " << flags.socket << " (state "
                  << state_dir << ", cgroups " << runtime->CgroupModeName() << ")";

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  int signal = 0;
  sigwait(&stop_signals, &signal);
  QUILT_LOG(INFO) << "signal " << signal << ": shutting down (containers keep running)";
  // Calls in flight get a moment to finish; long ones (Wait, Logs --follow) are cancelled
  // and their clients reconnect to the next daemon. Containers are not touched.
  listener->Stop();
  keepalive.reset();
  const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(500);
  server->Shutdown(deadline);
  refusing->Shutdown(deadline);
  ::unlink(flags.socket.c_str());
  return absl::OkStatus();
}

}  // namespace
}  // namespace quilt

int main(int argc, char** argv) {
  quilt::EnsureStdio();
  quilt::Flags flags;
  CLI::App app{"quiltd: the Quilt container daemon"};
  app.add_option("--socket", flags.socket, "Unix socket to serve on ($QUILT_SOCKET)");
  app.add_option("--state-dir", flags.state_dir, "state directory ($QUILT_STATE_DIR)");
  app.add_option("--cgroup-parent", flags.cgroup_parent,
                 "cgroup under which containers go (default: quiltd's own cgroup)");
  app.add_option("--log-level", flags.log_level, "debug, info, warning or error")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--default-image", flags.default_image, "tarball used when no image is given");
  app.add_option("--monitor-path", flags.monitor_path, "the quilt-monitor executable");
  app.add_option("--image-max-bytes", flags.image_limits.max_total_bytes,
                 "refuse image archives unpacking to more bytes (default 16 GiB)")
      ->check(CLI::PositiveNumber);
  app.add_option("--image-max-entries", flags.image_limits.max_entries,
                 "refuse image archives with more entries (default 1000000)")
      ->check(CLI::PositiveNumber);
  app.add_option("--socket-group", flags.socket_group,
                 "group given access to the socket (mode 0660), when it exists; else root only");
  app.add_option("--userns-range", flags.userns_range,
                 "START:COUNT host ids for --userns auto (default: user quilt in /etc/subuid)");
  app.add_option("--prestart", flags.prestart,
                 "containers kept prestarted for fast starts (v1 cgroups only; 0: none)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Blocked before any thread starts so every thread inherits the mask and only sigwait in
  // main sees the stop signals. SIGPIPE from a vanished client must not kill the daemon.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // A container init whose monitor is killed is reparented here rather than to pid 1, which
  // may never reap it (then it stays a zombie); the runtime reaps it (AwaitExitAndReap).
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  absl::Status status = quilt::Serve(flags);
  if (!status.ok()) {
    QUILT_LOG(ERROR) << "quiltd: " << status.message();
    return 1;
  }
  return 0;
}
