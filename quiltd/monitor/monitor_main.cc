// quilt-monitor <bundle_dir>: the per-container parent and log writer.
// quilt-monitor exec <init_pid> <timeout_seconds>: runs one command in a running container
// (see exec_helper.h for its fds).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "quiltd/monitor/exec_helper.h"
#include "quiltd/monitor/monitor.h"

int main(int argc, char** argv) {
  if (argc == 4 && strcmp(argv[1], "exec") == 0) {
    return quilt::RunExecHelper(static_cast<pid_t>(atoi(argv[2])), atoi(argv[3]));
  }
  if (argc != 2) {
    fprintf(stderr,
            "usage: quilt-monitor <bundle_dir>\n"
            "       quilt-monitor exec <init_pid> <timeout_seconds>\n");
    return 2;
  }
  return quilt::RunMonitor(argv[1]);
}
