// Passing a file descriptor over a Unix socket (SCM_RIGHTS), with a small payload. Header-only
// and allocation-free: the static monitor and the container init use it as well as quiltd.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace quilt {

// Sends `size` bytes of `data` with a copy of `fd` attached. Returns false with errno set.
// MSG_NOSIGNAL: a vanished peer must not kill the sender with SIGPIPE.
inline bool SendFd(int socket, int fd, const void* data, size_t size) {
  iovec iov{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(header), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(size);
}

// Receives up to `size` bytes into `data`; a descriptor that came with them is stored in
// `*fd` (CLOEXEC). Returns the byte count, 0 at EOF, or -1 with errno set.
inline ssize_t ReceiveFd(int socket, void* data, size_t size, UniqueFd* fd) {
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); n >= 0 && header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int received = -1;
      memcpy(&received, CMSG_DATA(header), sizeof(int));
      fd->Reset(received);
    }
  }
  return n;
}

}  // namespace quilt
