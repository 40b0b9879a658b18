// quilt-monitor <bundle_dir>: the per-container parent and log writer.
// quilt-monitor exec <init_pid> <timeout_seconds> <stdin> <tty> <rows> <columns>: runs one
// command in a running container (see exec_helper.h for its fds).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "quiltd/monitor/exec_helper.h"
#include "quiltd/monitor/monitor.h"

int main(int argc, char** argv) {
  if (argc == 8 && strcmp(argv[1], "exec") == 0) {
    quilt::ExecHelperOptions options;
    options.init_pid = static_cast<pid_t>(atoi(argv[2]));
    options.timeout_seconds = atoi(argv[3]);
    options.stdin_open = atoi(argv[4]) != 0;
    options.tty = atoi(argv[5]) != 0;
    options.rows = static_cast<uint16_t>(atoi(argv[6]));
    options.columns = static_cast<uint16_t>(atoi(argv[7]));
    return quilt::RunExecHelper(options);
  }
  if (argc != 2) {
    fprintf(stderr,
            "usage: quilt-monitor <bundle_dir>\n"
            "       quilt-monitor exec <init_pid> <timeout_seconds> <stdin> <tty> <rows> "
            "<columns>\n");
    return 2;
  }
  return quilt::RunMonitor(argv[1]);
}
