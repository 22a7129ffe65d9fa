#pragma once

#include <QString>

namespace filesync::localfs {

// The few file-system steps where POSIX gives guarantees QFile does not: renames that
// never replace what is at the target, and fsync of a directory. Any thread.

// Renames `from` to `to` only if nothing is at `to` (renameat2 RENAME_NOREPLACE; where
// the file system lacks it, link + unlink, which refuses an existing target too).
// False with errno set when it did not happen.
bool renameNoReplace(const QString &from, const QString &to);

// Makes a rename or creation inside `dir` durable.
void syncDirectory(const QString &dir);

} // namespace filesync::localfs
