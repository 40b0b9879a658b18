#include "quiltd/monitor/terminal.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

namespace quilt {

int OpenTerminal(uint16_t rows, uint16_t columns, uid_t owner, Terminal* terminal,
                 const char** step) {
  // The devpts instance's own ptmx, not the /dev/ptmx symlink: for an exec the container has
  // been running and could have swapped the link; a mount point it cannot replace (it has
  // no mount rights), and the node is checked to be a character device.
  terminal->master.Reset(open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC));
  if (!terminal->master.valid()) {
    *step = "open /dev/pts/ptmx";
    return errno;
  }
  struct stat node;
  if (fstat(terminal->master.get(), &node) != 0 || !S_ISCHR(node.st_mode)) {
    *step = "check /dev/pts/ptmx";
    return ENOTTY;
  }
  int unlock = 0;
  if (ioctl(terminal->master.get(), TIOCSPTLCK, &unlock) != 0) {
    *step = "unlock pseudo-terminal";
    return errno;
  }
  if (rows != 0 && columns != 0) {
    winsize size{};
    size.ws_row = rows;
    size.ws_col = columns;
    if (ioctl(terminal->master.get(), TIOCSWINSZ, &size) != 0) {
      *step = "set terminal size";
      return errno;
    }
  }
  terminal->slave.Reset(ioctl(terminal->master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!terminal->slave.valid()) {
    *step = "open pseudo-terminal slave";
    return errno;
  }
  // The group stays devpts' gid=5 (tty), so `write`/`wall` semantics match a login.
  if (fchown(terminal->slave.get(), owner, static_cast<gid_t>(-1)) != 0) {
    *step = "chown pseudo-terminal slave";
    return errno;
  }
  return 0;
}

int AttachToTerminal(int slave, const char** step) {
  if (setsid() < 0) {
    *step = "setsid";
    return errno;
  }
  if (ioctl(slave, TIOCSCTTY, 0) != 0) {
    *step = "set controlling terminal";
    return errno;
  }
  for (int fd = 0; fd <= 2; ++fd) {
    if (dup2(slave, fd) < 0) {
      *step = "dup terminal";
      return errno;
    }
  }
  return 0;
}

}  // namespace quilt
