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

// Sends `size` bytes of `data` with copies of `count` fds attached (at most kMaxPassedFds).
// Returns false with errno set.
inline constexpr int kMaxPassedFds = 8;
inline bool SendFds(int socket, const int* fds, int count, const void* data, size_t size) {
  if (count < 0 || count > kMaxPassedFds) {
    errno = EINVAL;
    return false;
  }
  iovec iov{const_cast<void*>(data), size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  if (count > 0) {
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(header), fds, sizeof(int) * count);
  }
  ssize_t n;
  do {
    n = sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(size);
}

// Receives up to `size` bytes into `data` and up to `max` fds (CLOEXEC) into `fds`, setting
// `*count`. Returns the byte count, 0 at EOF, or -1 with errno set; EMSGSIZE when more fds
// came than `max` (the kernel closed the extra ones) or the message was cut.
inline ssize_t ReceiveFds(int socket, void* data, size_t size, UniqueFd* fds, int max, int* count) {
  *count = 0;
  iovec iov{data, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  bool overflow = false;
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); n >= 0 && header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const size_t received = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < received; ++i) {
      int fd = -1;
      memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      if (*count < max) {
        fds[(*count)++].Reset(fd);
      } else {
        ::close(fd);
        overflow = true;
      }
    }
  }
  if (n >= 0 && (overflow || (message.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) != 0)) {
    errno = EMSGSIZE;
    return -1;
  }
  return n;
}

}  // namespace quilt
