// Writes the entries of a tar archive, as libarchive reads them, below a directory without
// ever leaving it: the disk writer of `cp` into a container and of image imports.
//
// libarchive's own disk writer takes paths relative to the process's working directory
// (chdir is process-wide in multithreaded quiltd), and its symlink check opens every
// component of every entry's path again: ~20 syscalls per file of an image. Here every
// entry is created with *at(2) calls on its parent directory, opened below the destination
// by openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): the checks of libarchive's
// ARCHIVE_EXTRACT_SECURE_* flags, made by the kernel at the moment of the write, so a
// container process swapping a directory for a symlink meanwhile gains nothing. The last
// parent stays open: a tar lists a directory's files together, so most entries cost one
// openat(2) of their own.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/types.h>
#include <time.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"
#include "quiltd/copy/writeback.h"

namespace quilt {

// "entry \"<name>\": ", the prefix of every error about an entry. A hostile name may be
// 1 MiB long: only its first 256 bytes are echoed.
std::string EntryContext(absl::string_view name);

// EntryContext(name) + why, as INVALID_ARGUMENT.
absl::Status EntryError(absl::string_view name, absl::string_view why);

// `errno` of a failed `what` on the entry: ELOOP is a path through a symlink
// (INVALID_ARGUMENT), a full disk RESOURCE_EXHAUSTED, the rest the errno's code.
absl::Status EntryErrno(absl::string_view name, absl::string_view what);

struct TreeWriterOptions {
  // As tar does: a directory entry replaces a non-directory of the same name, and a
  // non-directory replaces an empty directory. Otherwise both are refused, as docker cp does.
  bool replace_across_types = false;
  // Each file's data is handed to the disk as soon as it is written (writeback.h), for a
  // caller that syncs the whole tree at the end.
  bool start_writeback = false;
};

class TreeWriter {
 public:
  // The components of an archive name (or of a hard link's target) below the destination,
  // none of them "." or ".."; empty for the destination itself. Fails with the caller's
  // refusal of the name.
  using Placement = std::function<absl::StatusOr<std::vector<std::string>>(absl::string_view name)>;
  // The status of a failed archive_read_data_block of the reader, for the entry `name`.
  using ReadError = std::function<absl::Status(struct archive* reader, absl::string_view name)>;

  // Writes below the directory `dest_fd` (borrowed).
  TreeWriter(int dest_fd, Placement place, ReadError read_error,
             const TreeWriterOptions& options = {});

  // Creates the entry the reader is at, with its data, mode, mtime and (when we are root)
  // numeric owner; directories get theirs in Finish. Missing parents are created 0755. A
  // directory merges into an existing directory; a non-directory replaces an existing
  // non-directory; across types see TreeWriterOptions. Fails with INVALID_ARGUMENT for a
  // path through a symlink or a non-directory, a replacement the options refuse, a device
  // node or a socket, a hard link whose target is not in the tree (written before it) or is
  // a directory; with the errno's code when the disk refuses. The destination itself ("."
  // or "./") may only be a directory, and keeps its own metadata. A hard link's data, if
  // any, is not read: the link names the file written before.
  absl::Status Write(struct archive* reader, struct archive_entry* entry);

  // The directory at `parts` (created 0755 with its missing parents), opened O_PATH; valid
  // until the next call on this writer. `name` is the entry it is for, for errors.
  absl::StatusOr<int> Directory(absl::string_view name, const std::vector<std::string>& parts);

  // Applies the directories' metadata, deepest first: their mtimes would otherwise change
  // with each entry, and a read-only mode could stop the next ones. A directory that is no
  // longer one (replaced by a later entry, or by a container meanwhile) is left as it is.
  // Call once, at the end.
  absl::Status Finish();

 private:
  // Metadata applied to a directory in Finish.
  struct DirMetadata {
    std::string path;  // relative to the destination
    mode_t mode;
    uid_t uid;
    gid_t gid;
    timespec mtime;
  };

  // The directory at the first `count` of `parts`, created as needed, kept open.
  absl::StatusOr<int> OpenDir(absl::string_view name, const std::vector<std::string>& parts,
                              size_t count);
  // Fails with errno set.
  absl::StatusOr<UniqueFd> WalkCreating(const std::vector<std::string>& parts, size_t count);
  // Clears the way for a non-directory `leaf` that found something in its place.
  absl::Status Replace(absl::string_view name, int parent, const std::string& leaf);
  absl::Status MakeDirectory(absl::string_view name, struct archive_entry* entry,
                             const std::vector<std::string>& parts, int parent);
  absl::Status WriteFile(struct archive* reader, absl::string_view name,
                         struct archive_entry* entry, int parent, const std::string& leaf);
  absl::Status CopyData(struct archive* reader, absl::string_view name, int fd, int64_t size);
  absl::Status MakeSymlink(absl::string_view name, struct archive_entry* entry, int parent,
                           const std::string& leaf);
  absl::Status MakeFifo(absl::string_view name, struct archive_entry* entry, int parent,
                        const std::string& leaf);
  absl::Status MakeHardLink(absl::string_view name, const char* target, int parent,
                            const std::string& leaf);
  // `target_parent` is -1 when the target's directory could not be opened.
  absl::Status LinkError(absl::string_view name, absl::string_view target, int target_parent,
                         const std::string& target_leaf) const;
  absl::Status SetLinkMetadata(absl::string_view name, struct archive_entry* entry, int parent,
                               const std::string& leaf) const;

  const int dest_fd_;
  const Placement place_;
  const ReadError read_error_;
  const std::unique_ptr<Writeback> writeback_;
  const bool replace_across_types_;
  const bool as_root_;
  // The last directory opened (an entry's parent), and its components.
  std::vector<std::string> dir_parts_;
  UniqueFd dir_fd_;
  std::vector<DirMetadata> dirs_;
};

}  // namespace quilt
