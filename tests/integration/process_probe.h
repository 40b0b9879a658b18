// What the reliability suite reads about processes from /proc, and reaping for a test
// process that makes itself a child subreaper.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace quilt::testing {

// Open file descriptors of `pid` (entries in /proc/<pid>/fd); -1 if it is gone.
int CountFds(pid_t pid);

// Threads of `pid` ("Threads:" in /proc/<pid>/status); -1 if it is gone.
int CountThreads(pid_t pid);

// Resident set size of `pid` in KiB ("VmRSS:"); -1 if it is gone.
int64_t RssKib(pid_t pid);

// Parent pid of `pid`, or -1 if it is gone.
pid_t ParentOf(pid_t pid);

// Every process (zombies included) whose parent is `pid`.
std::vector<pid_t> ChildrenOf(pid_t pid);

// Every process other than `except` whose command line contains `text`.
std::vector<pid_t> ProcessesMentioning(const std::string& text, pid_t except);

// True for a spare monitor of quiltd or its waiting init (`quilt-monitor spare ...`).
bool IsSpare(pid_t pid);

// True while /proc/<pid> exists (a zombie too).
bool ProcessExists(pid_t pid);

// Reaps every exited child of this process except `keep` (which is left to its owner).
// Orphans are reparented here once the test process is a child subreaper.
void ReapExitedChildren(pid_t keep);

}  // namespace quilt::testing
