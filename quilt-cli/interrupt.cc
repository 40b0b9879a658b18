#include "quilt-cli/interrupt.h"

#include <ctime>

namespace quilt::cli {
namespace {

// How often the watcher looks at done_; bounds the destructor's wait.
constexpr long kPollNanos = 50'000'000;

}  // namespace

InterruptWatcher::InterruptWatcher() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  // Blocked before the thread starts, so it inherits the mask and sigtimedwait owns delivery.
  pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
  thread_ = std::thread([this] { Loop(); });
}

InterruptWatcher::~InterruptWatcher() {
  done_ = true;
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptWatcher::Watch(grpc::ClientContext* context) {
  std::lock_guard<std::mutex> lock(mu_);
  context_ = context;
  if (context_ != nullptr && signal_.load() != 0) context_->TryCancel();
}

void InterruptWatcher::Loop() {
  const timespec timeout = {0, kPollNanos};
  while (!done_.load()) {
    int received = sigtimedwait(&signals_, nullptr, &timeout);
    if (received <= 0) continue;
    int expected = 0;
    signal_.compare_exchange_strong(expected, received);
    std::lock_guard<std::mutex> lock(mu_);
    if (context_ != nullptr) context_->TryCancel();
  }
}

}  // namespace quilt::cli
