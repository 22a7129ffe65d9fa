#pragma once

#include "localentry.h"

#include <QSet>
#include <QStringList>

#include <atomic>
#include <functional>

class QThreadPool;

namespace filesync {

// Which part of the tree a scan looks at. A full scan walks everything. A partial one
// lists the direct children of `dirs` and walks `trees` whole; a folder it meets that the
// journal does not know as a folder is walked whole too, and a path in scope that is
// not on disk any more is absent from the snapshot (gone). Every path out of scope is
// unchanged, never deleted: it is in neither the snapshot nor the scoped journal.
struct ScanScope
{
    bool full = true;
    QSet<RelativePath> dirs;
    QSet<RelativePath> trees;

    static ScanScope everything() { return {}; }
    static ScanScope nothing() { return ScanScope { false, {}, {} }; }
    bool isEmpty() const { return !full && dirs.isEmpty() && trees.isEmpty(); }
    void merge(const ScanScope &other)
    {
        full = full || other.full;
        dirs.unite(other.dirs);
        trees.unite(other.trees);
    }
};

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
        int visited = 0; // entries stat'ed on disk
        qint64 elapsedMs = 0; // the walk itself, for the cycle's debug log
        int hashedFiles = 0;
        qint64 hashedBytes = 0; // cut and SHA-256-hashed
        qint64 reusedBytes = 0; // in changed files, confirmed unchanged by the blocks' checks
        bool cancelled = false; // stopped early: the snapshot is incomplete, use nothing
        // A partial scan describes only its scope: `snapshot` holds what is on disk there
        // and `scopedJournal` the journal's entries there. Everything else is unchanged
        // by definition, so the reconciler gets just these two (the same plan as with
        // the whole tree, without going through 20,000 unchanged paths).
        bool partial = false;
        JournalState scopedJournal;
    };

    static constexpr qint64 kRacyWindowNs = 3'000'000'000; // 3 s

    // `cancel`, when set from another thread, ends the walk (and any hashing) early.
    // `hashing`: the pool that hashes a big file beside its cutting (Chunker).
    static Result scan(const QString &root, const JournalState &journal, const std::atomic_bool *cancel = nullptr)
    {
        return scan(root, journal, ScanScope::everything(), cancel);
    }
    static Result scan(const QString &root, const JournalState &journal, const ScanScope &scope,
        const std::atomic_bool *cancel = nullptr, QThreadPool *hashing = nullptr);
    // Stats one path (no hashing); nullopt when it does not exist. It follows links on
    // the way (not at the end): the engine's own steps use localfs::Location instead.
    static std::optional<LocalEntry> stat(const QString &absolutePath);

    // For tests: called with the absolute path of a small file (one block, read whole)
    // between its stat and its read, to change it there. Not thread-safe: set it while
    // no scan runs.
    static void setBeforeSmallReadForTests(std::function<void(const QString &path)> hook);
};

} // namespace filesync
