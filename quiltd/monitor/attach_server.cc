#include "quiltd/monitor/attach_server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/fd_passing.h"

namespace quilt {
namespace {

constexpr size_t kMaxBacklog = 64 * 1024;
// Room for bursts while quiltd forwards to a slow network client.
constexpr int kClientBuffer = 1 << 20;

}  // namespace

bool AttachServer::Listen(const std::string& dir, const std::string& name) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (name.size() >= sizeof(address.sun_path)) {
    errno = ENAMETOOLONG;
    return false;
  }
  memcpy(address.sun_path, name.c_str(), name.size() + 1);
  if (chdir(dir.c_str()) != 0) return false;
  const std::string path = dir + "/" + name;
  listener_.Reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!listener_.valid()) return false;
  unlink(path.c_str());
  if (bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(listener_.get(), 8) != 0) {
    listener_.Reset();
    return false;
  }
  path_ = path;
  return true;
}

void AttachServer::SetInput(char tag, int fd) {
  tag_ = tag;
  input_fd_ = fd;
}

void AttachServer::AddPollFds(std::vector<pollfd>* fds) const {
  fds->push_back({listener_.get(), POLLIN, 0});
  for (const UniqueFd& client : clients_) fds->push_back({client.get(), POLLIN, 0});
}

void AttachServer::Handle(const std::vector<pollfd>& fds, size_t first, bool* close_stdin) {
  // Clients first: Accept may grow clients_, which the entries after `first` describe.
  for (size_t i = 0; i < clients_.size(); ++i) {
    if (fds[first + 1 + i].revents == 0) continue;
    char request = 0;
    ssize_t n = recv(clients_[i].get(), &request, 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n == 1 && request == kAttachCloseStdin) {
      *close_stdin = true;
      continue;
    }
    clients_[i].Reset();  // EOF, an error or an unknown request: the client is gone
  }
  std::erase_if(clients_, [](const UniqueFd& fd) { return !fd.valid(); });
  if (fds[first].revents != 0) Accept();
}

void AttachServer::Accept() {
  UniqueFd client(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!client.valid()) return;
  if (clients_.size() >= kAttachMaxClients) {
    (void)!send(client.get(), &kAttachRefused, 1, MSG_NOSIGNAL);
    return;
  }
  setsockopt(client.get(), SOL_SOCKET, SO_SNDBUF, &kClientBuffer, sizeof(kClientBuffer));
  const bool sent = input_fd_ >= 0 ? SendFd(client.get(), input_fd_, &tag_, 1)
                                   : send(client.get(), &tag_, 1, MSG_NOSIGNAL) == 1;
  if (!sent) return;
  if (!attached_once_) {
    attached_once_ = true;
    for (size_t at = 0; at + 5 <= backlog_.size();) {
      uint32_t size = 0;
      memcpy(&size, backlog_.data() + at + 1, sizeof(size));
      const auto* data = reinterpret_cast<const uint8_t*>(backlog_.data() + at + 5);
      if (!Send(client.get(), static_cast<uint8_t>(backlog_[at]), data, size)) return;
      at += 5 + size;
    }
    backlog_.clear();
    backlog_.shrink_to_fit();
  }
  clients_.push_back(std::move(client));
}

void AttachServer::Broadcast(uint8_t stream, const uint8_t* data, size_t size) {
  if (!attached_once_ && listener_.valid() && backlog_.size() + 5 + size <= kMaxBacklog) {
    const auto length = static_cast<uint32_t>(size);
    backlog_.push_back(static_cast<char>(stream));
    backlog_.append(reinterpret_cast<const char*>(&length), sizeof(length));
    backlog_.append(reinterpret_cast<const char*>(data), size);
  }
  for (UniqueFd& client : clients_) {
    if (!Send(client.get(), stream, data, size)) client.Reset();
  }
  std::erase_if(clients_, [](const UniqueFd& fd) { return !fd.valid(); });
}

bool AttachServer::Send(int fd, uint8_t stream, const uint8_t* data, size_t size) {
  iovec parts[2] = {{&stream, 1}, {const_cast<uint8_t*>(data), size}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  ssize_t n;
  do {
    n = sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(size + 1);
}

void AttachServer::Close() {
  clients_.clear();
  if (listener_.valid()) unlink(path_.c_str());
  listener_.Reset();
}

}  // namespace quilt
