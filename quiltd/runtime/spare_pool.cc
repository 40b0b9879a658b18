#include "quiltd/runtime/spare_pool.h"

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/fs.h"
#include "common/logging.h"
#include "common/process.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "quiltd/monitor/monitor_protocol.h"
#include "quiltd/runtime/userns_range.h"

namespace quilt {
namespace {

// How long a dismissed spare gets to end by itself before it is killed.
constexpr int kDismissTimeoutMs = 5000;
// Spares are made once the pool was not used for this long: on a machine of two cores,
// making one while a client still works with the container it just started (its output,
// its end, its removal) slowed that client down.
constexpr absl::Duration kQuietBeforeRefill = absl::Milliseconds(10);

bool Exited(const LaunchedMonitor& monitor) {
  pollfd p{monitor.pidfd.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SparePool>> SparePool::Start(int size, std::string dir,
                                                            CgroupManager* cgroups,
                                                            const MonitorLauncher* launcher,
                                                            Trash* trash) {
  if (size <= 0 || !cgroups->SupportsSpares()) return nullptr;
  QUILT_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  std::unique_ptr<SparePool> pool(new SparePool(size, std::move(dir), cgroups, launcher, trash));
  pool->RemoveLeftovers();
  pool->filler_ = std::thread([p = pool.get()] { p->Fill(); });
  return pool;
}

SparePool::SparePool(int size, std::string dir, CgroupManager* cgroups,
                     const MonitorLauncher* launcher, Trash* trash)
    : size_(size), dir_(std::move(dir)), cgroups_(cgroups), launcher_(launcher), trash_(trash) {}

SparePool::~SparePool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  filler_.join();
  std::vector<Spare> all = std::move(dismissed_);
  for (Spare& spare : ready_) all.push_back(std::move(spare));
  ready_.clear();
  // Closing every claim pipe first lets the spares end side by side.
  for (Spare& spare : all) spare.claim_pipe.Reset();
  for (Spare& spare : all) Reap(std::move(spare));
}

bool SparePool::Fits(const v1::ContainerSpec& spec) {
  absl::StatusOr<UsernsRequest> userns = ParseUserns(spec.userns());
  // No bind mounts: a spare's mount namespace is a copy of the host's from when it was made,
  // so a volume source mounted on the host since would be missing in it.
  return userns.ok() && userns->mode == UsernsMode::kHost &&
         spec.network() != v1::NETWORK_MODE_HOST && (spec.tty() || !spec.stdin_open()) &&
         spec.mounts().empty();
}

std::optional<Spare> SparePool::Take() {
  absl::MutexLock lock(&mu_);
  while (!ready_.empty()) {
    Spare spare = std::move(ready_.front());
    ready_.pop_front();
    // One that died meanwhile (killed by someone) is cleaned up by the filler.
    if (!Exited(spare.monitor)) {
      ++taken_;
      last_use_ = absl::Now();
      return spare;
    }
    dismissed_.push_back(std::move(spare));
  }
  return std::nullopt;
}

absl::Status SparePool::Claim(Spare& spare, const std::string& bundle_dir) {
  const std::string message = bundle_dir + '\0';
  UniqueFd claim_pipe = std::move(spare.claim_pipe);
  if (message.size() > PIPE_BUF) {
    return absl::InvalidArgumentError(absl::StrCat("bundle path too long: ", bundle_dir));
  }
  // One write of at most PIPE_BUF bytes is atomic: the spare reads all of it or nothing.
  ssize_t n;
  do {
    n = ::write(claim_pipe.get(), message.data(), message.size());
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(message.size())) {
    return ErrnoStatus(absl::StrCat("claim spare ", spare.name));
  }
  // Its diagnostics go to the bundle from now on.
  if (absl::Status s = trash_->Discard(DirOf(spare.name)); !s.ok()) QUILT_LOG(WARNING) << s;
  return absl::OkStatus();
}

void SparePool::Replenish() {
  absl::MutexLock lock(&mu_);
  --taken_;
  last_use_ = absl::Now();
}

void SparePool::Dismiss(Spare spare) {
  spare.claim_pipe.Reset();
  absl::MutexLock lock(&mu_);
  --taken_;
  dismissed_.push_back(std::move(spare));
}

bool SparePool::HasWork() const {
  return stopping_ || !dismissed_.empty() || static_cast<int>(ready_.size()) + taken_ < size_;
}

void SparePool::Fill() {
  for (;;) {
    std::vector<Spare> dismissed;
    bool make = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SparePool::HasWork));
      if (stopping_) return;
      dismissed.swap(dismissed_);
      make = static_cast<int>(ready_.size()) + taken_ < size_;
      for (absl::Duration quiet;
           make && (quiet = last_use_ + kQuietBeforeRefill - absl::Now()) > absl::ZeroDuration();) {
        if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), quiet)) return;
      }
    }
    for (Spare& spare : dismissed) Reap(std::move(spare));
    if (!make) continue;
    absl::StatusOr<Spare> spare = Make();
    absl::MutexLock lock(&mu_);
    if (spare.ok()) {
      failures_ = 0;
      ready_.push_back(*std::move(spare));
      continue;
    }
    // A host that cannot make spares (no network namespaces, say) gets cold starts only, and
    // a retry now and then rather than a busy loop.
    ++failures_;
    QUILT_LOG(WARNING) << "prestart a container: " << spare.status();
    const absl::Duration backoff =
        std::min(absl::Milliseconds(100) * (1 << std::min(failures_, 7)), absl::Seconds(10));
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
  }
}

absl::StatusOr<Spare> SparePool::Make() {
  Spare spare;
  spare.name = NewContainerId().substr(0, 16);
  const std::string dir = DirOf(spare.name);
  if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus(absl::StrCat("mkdir ", dir));
  absl::Cleanup remove = [&] {
    (void)cgroups_->RemoveSpare(spare.name);
    (void)trash_->Discard(dir);
  };
  QUILT_ASSIGN_OR_RETURN(CgroupPlacement placement, cgroups_->CreateSpare(spare.name));
  QUILT_ASSIGN_OR_RETURN(
      spare.monitor,
      launcher_->SpawnSpare(dir, placement.procs_files, &spare.start_pipe, &spare.claim_pipe));
  const StartReport report = MonitorLauncher::AwaitReport(spare.start_pipe);
  if (report.kind != StartReport::kReady) {
    spare.claim_pipe.Reset();
    if (!AwaitExitAndReap(spare.monitor.pid, spare.monitor.start_ticks, kDismissTimeoutMs)) {
      (void)SignalPidfd(spare.monitor.pidfd.get(), SIGKILL);
      (void)AwaitExitAndReap(spare.monitor.pid, spare.monitor.start_ticks, kDismissTimeoutMs);
    }
    return absl::InternalError(
        absl::StrCat("spare ", spare.name, ": ", DescribeStartFailure(report)));
  }
  std::move(remove).Cancel();
  return spare;
}

void SparePool::Reap(Spare spare) {
  spare.claim_pipe.Reset();
  const LaunchedMonitor& monitor = spare.monitor;
  if (!AwaitExitAndReap(monitor.pid, monitor.start_ticks, kDismissTimeoutMs)) {
    QUILT_LOG(WARNING) << "spare " << spare.name << " did not end when dismissed: killing it";
    (void)SignalPidfd(monitor.pidfd.get(), SIGKILL);
    (void)AwaitExitAndReap(monitor.pid, monitor.start_ticks, kDismissTimeoutMs);
  }
  if (absl::Status s = cgroups_->RemoveSpare(spare.name); !s.ok()) QUILT_LOG(WARNING) << s;
  if (absl::Status s = trash_->Discard(DirOf(spare.name)); !s.ok()) QUILT_LOG(WARNING) << s;
}

// A spare outlives no quiltd (its claim pipe closes with it, and it ends), but a killed one
// can leave its cgroups and dir behind.
void SparePool::RemoveLeftovers() {
  absl::StatusOr<std::vector<std::string>> names = ListDir(dir_);
  if (!names.ok()) {
    QUILT_LOG(WARNING) << "remove leftover spares: " << names.status();
    return;
  }
  for (const std::string& name : *names) {
    // Empty here; in a claimed spare's init it may hold a tmpfs that must stay (the
    // kernel would detach it from under the init at its directory's removal).
    if (name == kSpareStageDirName) continue;
    if (absl::Status s = cgroups_->RemoveSpare(name); !s.ok()) QUILT_LOG(WARNING) << s;
    if (absl::Status s = trash_->Discard(DirOf(name)); !s.ok()) QUILT_LOG(WARNING) << s;
  }
}

}  // namespace quilt
