#pragma once

#include "relativepath.h"

#include <QString>

namespace filesync::localfs {

// The few file-system steps where POSIX gives guarantees QFile does not: renames that
// never replace what is at the target, and fsync of a directory. Any thread.

// Renames `from` to `to` only if nothing is at `to` (renameat2 RENAME_NOREPLACE; where
// the file system lacks it, link + unlink, which refuses an existing target too).
// False with errno set when it did not happen.
bool renameNoReplace(const QString &from, const QString &to);

// Creates `dir` (and its missing parents) inside `root`, one level at a time, and only
// while `root` itself is there: a sync root that vanished (an unmounted drive, a folder
// moved away) is never re-created by us. `dir` may be the root itself (nothing to do).
bool makeDirs(const QString &root, const RelativePath &dir);

// Makes a rename or creation inside `dir` durable.
void syncDirectory(const QString &dir);

} // namespace filesync::localfs
