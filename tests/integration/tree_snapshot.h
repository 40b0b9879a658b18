// A comparable record of a directory tree, to show an attack changed nothing on the host.
#pragma once

#include <map>
#include <set>
#include <string>

namespace quilt::testing {

// Path (relative to the root) -> "type mode uid:gid size <content hash or link target>".
// Directories carry no size or time (creating and removing a temp entry touches them).
using TreeSnapshot = std::map<std::string, std::string>;

// Walks `root` without following symlinks; `skip` are relative paths left out with all
// below them (files the daemon rewrites on its own, like its log).
TreeSnapshot SnapshotTree(const std::string& root, const std::set<std::string>& skip = {});

// The lines that differ ("- path: before", "+ path: after"), empty when equal.
std::string DiffSnapshots(const TreeSnapshot& before, const TreeSnapshot& after);

}  // namespace quilt::testing
