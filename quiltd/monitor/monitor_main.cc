// quilt-monitor <bundle_dir>: the per-container parent and log writer.
// quilt-monitor spare <spare_dir> <cgroup.procs>...: the same, prepared before its container
// exists (see monitor_protocol.h).
// quilt-monitor exec <init_pid> <timeout_seconds> <stdin> <tty> <rows> <columns>: runs one
// command in a running container (see exec_helper.h for its fds).
// quilt-monitor exec-server <init_pid>: starts a running container's exec server
// (exec_server.h).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "quiltd/monitor/exec_helper.h"
#include "quiltd/monitor/exec_server.h"
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
  if (argc >= 3 && strcmp(argv[1], "spare") == 0) {
    quilt::ArgvArea area{
        argv[0], static_cast<size_t>(argv[argc - 1] - argv[0]) + strlen(argv[argc - 1]) + 1};
    return quilt::RunSpareMonitor(argv[2], std::vector<std::string>(argv + 3, argv + argc), area);
  }
  if (argc == 3 && strcmp(argv[1], "exec-server") == 0) {
    return quilt::RunExecServerStart(static_cast<pid_t>(atoi(argv[2])));
  }
  if (argc != 2) {
    fprintf(stderr,
            "usage: quilt-monitor <bundle_dir>\n"
            "       quilt-monitor spare <spare_dir> <cgroup.procs>...\n"
            "       quilt-monitor exec <init_pid> <timeout_seconds> <stdin> <tty> <rows> "
            "<columns>\n"
            "       quilt-monitor exec-server <init_pid>\n");
    return 2;
  }
  return quilt::RunMonitor(argv[1]);
}
