#include "common/spawn_fds.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

extern char** environ;

namespace quilt {
namespace {

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

Pipe MakePipe() {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Spawns `sh -c script` with `placements`; returns what it wrote to fd 1 (a pipe placed there).
std::string RunWith(const std::string& script, std::vector<std::pair<int, int>> placements) {
  Pipe out = MakePipe();
  placements.emplace_back(out.write.get(), 1);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::vector<UniqueFd> copies;
  EXPECT_TRUE(AddFdPlacements(&actions, placements, &copies).ok());
  std::string sh = "/bin/sh", c = "-c", body = script;
  char* argv[] = {sh.data(), c.data(), body.data(), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  copies.clear();
  out.write.Reset();
  std::string text;
  char buffer[256];
  ssize_t n;
  while ((n = read(out.read.get(), buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  int status = 0;
  waitpid(pid, &status, 0);
  return text;
}

// The bug class this exists for: a source fd sitting on the target of an earlier placement.
TEST(SpawnFdsTest, ASourceOnAnEarlierTargetIsPlacedIntact) {
  Pipe one = MakePipe();
  Pipe two = MakePipe();
  ASSERT_EQ(write(one.write.get(), "one\n", 4), 4);
  ASSERT_EQ(write(two.write.get(), "two\n", 4), 4);
  one.write.Reset();
  two.write.Reset();
  const int clash = two.read.get();
  const std::string text = RunWith(absl::StrCat("cat <&", clash, "; cat <&9"),
                                   {{one.read.get(), clash}, {two.read.get(), 9}});
  EXPECT_EQ(text, "one\ntwo\n");
}

TEST(SpawnFdsTest, OnlyPlacedFdsAndNullStdioReachTheChild) {
  // Not CLOEXEC, as quiltd's own stdio is not: it must not reach the child either.
  UniqueFd inheritable(fcntl(STDIN_FILENO, F_DUPFD, 30));
  ASSERT_TRUE(inheritable.valid());
  const std::string text =
      RunWith(absl::StrCat("[ \"$(readlink /proc/self/fd/0)\" = /dev/null ] && echo null0; "
                           "[ \"$(readlink /proc/self/fd/2)\" = /dev/null ] && echo null2; "
                           "[ -e /proc/self/fd/",
                           inheritable.get(), " ] || echo closed"),
              {});
#ifdef __GLIBC__
  EXPECT_EQ(text, "null0\nnull2\nclosed\n");
#else
  EXPECT_EQ(text.substr(0, 12), "null0\nnull2\n");
#endif
}

}  // namespace
}  // namespace quilt
