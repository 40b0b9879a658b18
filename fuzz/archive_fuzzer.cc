// Fuzzes image import: the input bytes are the archive file, extracted into a fresh
// directory with small limits. Besides crashes and sanitizer reports, it aborts when an
// extraction leaves anything beside the two paths it was given.
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/fs.h"
#include "quiltd/image/archive_extractor.h"

namespace {

// A scratch directory per fuzzer process, on tmpfs when there is one (fast, and a runaway
// input fills memory the fuzzer's -rss_limit_mb watches rather than the disk).
const std::string& Scratch() {
  static const std::string* dir = [] {
    std::string tmpl =
        access("/dev/shm", W_OK) == 0 ? "/dev/shm/quilt-fuzz-XXXXXX" : "/tmp/quilt-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) abort();
    // libFuzzer ends a timed run with exit(): the scratch directory goes with it.
    std::atexit([] { (void)quilt::RemoveTree(Scratch()); });
    return new std::string(tmpl);
  }();
  return *dir;
}

// The names in the scratch directory other than "in" and "out": anything else was written
// outside the destination.
int StrayEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) abort();
  int stray = 0;
  while (const struct dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != ".." && name != "in" && name != "out") {
      std::fprintf(stderr, "stray entry outside the destination: %s\n", name.c_str());
      ++stray;
    }
  }
  closedir(d);
  return stray;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = Scratch();
  const std::string in = dir + "/in";
  const std::string out = dir + "/out";
  {
    std::ofstream f(in, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  if (mkdir(out.c_str(), 0755) != 0) abort();
  const quilt::ExtractLimits limits = {
      .max_entry_bytes = 16 << 20, .max_entries = 4096, .max_total_bytes = 64 << 20};
  (void)quilt::ExtractArchive(in, out, limits);
  if (StrayEntries(dir) != 0) abort();
  if (!quilt::RemoveTree(out).ok()) abort();
  return 0;
}
