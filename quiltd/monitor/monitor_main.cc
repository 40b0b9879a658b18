// quilt-monitor <bundle_dir>: the per-container parent and log writer.
#include <cstdio>

#include "quiltd/monitor/monitor.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: quilt-monitor <bundle_dir>\n");
    return 2;
  }
  return quilt::RunMonitor(argv[1]);
}
