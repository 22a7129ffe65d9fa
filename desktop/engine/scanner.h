#pragma once

#include "localentry.h"

#include <QStringList>

#include <atomic>

namespace filesync {

// Walks a sync root and describes what is on disk. Files whose size, mtime and inode
// match the journal keep the journal's blocks (no hashing) unless their mtime is so
// recent that a same-size rewrite within the clock's granularity could hide (the "racy
// git" rule); all others are chunked and hashed. Pure and thread-safe: run it on the
// thread pool with a copy of the journal.
class Scanner
{
public:
    struct Result
    {
        LocalSnapshot snapshot;
        QStringList warnings; // names skipped, unreadable folders: the user should know
        QString fatal; // the root itself is missing or unreadable: stop, delete nothing
        int hashedFiles = 0;
        qint64 hashedBytes = 0;
        bool cancelled = false; // stopped early: the snapshot is incomplete, use nothing
    };

    static constexpr qint64 kRacyWindowNs = 3'000'000'000; // 3 s

    // `cancel`, when set from another thread, ends the walk (and any hashing) early.
    static Result scan(const QString &root, const JournalState &journal, const std::atomic_bool *cancel = nullptr);
    // Stats one path (no hashing); nullopt when it does not exist.
    static std::optional<LocalEntry> stat(const QString &absolutePath);
};

} // namespace filesync
