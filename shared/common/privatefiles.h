#pragma once

#include "result.h"

#include <QString>

namespace filesync {

// What holds a secret or someone's files outside their synced folder (the client's
// metadata folder and journal, the server's data) is its owner's alone, whatever the
// umask: folders 0700, files 0600. These create such paths and fix existing ones. A mode
// the filesystem cannot keep (FAT, some network mounts) is logged, not an error: the
// data stays usable and the mount's own options decide.
namespace privatefiles {

constexpr unsigned kDirMode = 0700;
constexpr unsigned kFileMode = 0600;

// `path` created (and missing parents, as QDir::mkpath does) or kept; then 0700.
Result<void> makeDir(const QString &path);
// Creates `path` empty unless it exists; then 0600.
Result<void> touchFile(const QString &path);
// 0600 on `path` if it exists.
void fixFile(const QString &path);
// A SQLite database about to be opened: created 0600 if missing (SQLite then gives its
// -wal and -shm the same mode), and the mode of it and of any -wal, -shm or -journal
// left from before fixed.
Result<void> prepareDatabase(const QString &path);
// `dir` and everything under it, symbolic links not followed: folders 0700, files 0600.
void fixTree(const QString &dir);
// Whether `path` is a folder whose mode is exactly 0700.
bool isPrivateDir(const QString &path);

} // namespace privatefiles
} // namespace filesync
