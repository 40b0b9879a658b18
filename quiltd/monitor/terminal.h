// Pseudo-terminals for a container's processes: allocated from the devpts instance the
// process sees at /dev/pts (the container's own, once inside its mount namespace and root),
// so the slave is a device of the container and `tty` there prints /dev/pts/N.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/unique_fd.h"

namespace quilt {

struct Terminal {
  UniqueFd master;
  UniqueFd slave;
};

// Opens /dev/pts/ptmx, unlocks it, sets the size (when both are non-zero) and opens the slave
// through the master (TIOCGPTPEER: no path lookup that the container could redirect). The
// slave is given to `owner` so a non-root command owns its terminal, like a login. Returns
// 0, or an errno with `*step` naming what failed. Allocation-free.
int OpenTerminal(uint16_t rows, uint16_t columns, uid_t owner, Terminal* terminal,
                 const char** step);

// In a forked child about to exec: starts a new session, makes `slave` its controlling
// terminal and its stdin, stdout and stderr. Returns 0 or an errno with `*step` set.
int AttachToTerminal(int slave, const char** step);

}  // namespace quilt
