#pragma once

#include "localentry.h"
#include "relativepath.h"

#include <QString>

#include <atomic>

#include <optional>

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

// The stat of an open file, as the scanner would record it (no blocks).
std::optional<LocalEntry> statFd(int fd);

// Copies `length` bytes at `fromOffset` of `from` to `toOffset` of `to`: copy_file_range(2)
// (inside the kernel, no user-space buffer; a reflink where the file system shares
// extents), read/write where the kernel cannot. Never moves either file offset. Starts
// write-back of what it wrote every `writeBackEvery` bytes (0: never) so a later fdatasync
// has little left to wait for. `cancel` (may be null) is checked between steps. False
// when not every byte was copied (a source shorter than expected, an I/O error).
bool copyRange(int from, qint64 fromOffset, int to, qint64 toOffset, qint64 length, qint64 writeBackEvery,
    const std::atomic_bool *cancel);

// Starts write-back of the file's dirty pages in [offset, offset + length) (length 0: to
// the end) without waiting for it: sync_file_range(SYNC_FILE_RANGE_WRITE). Durability
// still needs fdatasync; this only makes that one short.
void startWriteBack(int fd, qint64 offset, qint64 length);

// CLOCK_REALTIME in nanoseconds: the clock file times are stamped from (coarsely), for
// JournalEntry::readClearlyAfter.
qint64 realtimeNs();

} // namespace filesync::localfs
