#include "quilt-cli/interrupt.h"

namespace quilt::cli {
namespace {

// Sent to the watcher thread alone (pthread_kill) to end its wait at once: a polling wait
// would hold every `run` up to its period at exit.
constexpr int kWakeSignal = SIGUSR2;

}  // namespace

InterruptWatcher::InterruptWatcher() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  // A closed terminal or Ctrl-\ must also end a session through the normal path, which
  // restores a terminal left in raw mode.
  sigaddset(&signals_, SIGHUP);
  sigaddset(&signals_, SIGQUIT);
  sigaddset(&signals_, kWakeSignal);
  // Blocked before the thread starts, so it inherits the mask and sigwaitinfo owns delivery.
  pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
  thread_ = std::thread([this] { Loop(); });
}

InterruptWatcher::~InterruptWatcher() {
  done_ = true;
  pthread_kill(thread_.native_handle(), kWakeSignal);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptWatcher::Watch(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  context_ = context;
  if (context_ != nullptr && signal_.load() != 0) context_->TryCancel();
}

void InterruptWatcher::Loop() {
  while (!done_.load()) {
    const int received = sigwaitinfo(&signals_, nullptr);
    if (received <= 0 || received == kWakeSignal) continue;
    int expected = 0;
    signal_.compare_exchange_strong(expected, received);
    std::lock_guard<std::mutex> lock(mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
}

}  // namespace quilt::cli
