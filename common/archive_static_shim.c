/*
 * Linked into the static quilt-cli (and a static quiltd) as an object file, before
 * libarchive.a.
 *
 * Why: libarchive 3.6 keeps __archive_write_entry_filetype_unsupported, the error every tar
 * writer reports for a file type its format cannot hold, in archive_write_set_format.o, next
 * to the format-by-code table. That table references every writer, xar among them, which
 * needs libxml2 and, through it, ICU (31 MB of data, and libraries the static link does not
 * list). Defining the function here satisfies the pax writer without pulling that object in.
 * Same behaviour as libarchive's own (archive_write_set_format.c, 3.6.2; its
 * ARCHIVE_ERRNO_FILE_FORMAT is EILSEQ on Linux).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stddef.h>

void __archive_write_entry_filetype_unsupported(struct archive* a, struct archive_entry* entry,
                                                const char* format);

void __archive_write_entry_filetype_unsupported(struct archive* a, struct archive_entry* entry,
                                                const char* format) {
  const char* name = NULL;
  switch (archive_entry_filetype(entry)) {
    case AE_IFDIR:
      name = "directories";
      break;
    case AE_IFLNK:
      name = "symbolic links";
      break;
    case AE_IFCHR:
      name = "character devices";
      break;
    case AE_IFBLK:
      name = "block devices";
      break;
    case AE_IFIFO:
      name = "named pipes";
      break;
    case AE_IFSOCK:
      name = "sockets";
      break;
    default:
      break;
  }
  if (name != NULL) {
    archive_set_error(a, EILSEQ, "%s: %s format cannot archive %s", archive_entry_pathname(entry),
                      format, name);
  } else {
    archive_set_error(a, EILSEQ, "%s: unsupported filetype", archive_entry_pathname(entry));
  }
}
