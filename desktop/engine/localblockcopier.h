#pragma once

#include "enginepools.h"
#include "localentry.h"

#include <QFuture>
#include <QHash>
#include <QList>
#include <QPair>
#include <QSet>
#include <QString>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace filesync {

// Reuses blocks already on this computer, so that a download need not fetch them: it
// knows a local file holding each block a run of downloads wants (the journal's entries
// at the run's start, then the files the run installs), and copies those blocks into the
// temp files that need them. A local block is copied unread (copy_file_range) when its
// file's stat proves it unchanged since its block list was recorded, before and after the
// copy; otherwise it is read and re-hashed, and only bytes with the right hash are
// written. A block reported not written is left to the server.
//
// Engine thread (index(), add(), start()); the copies run on the engine's work pool.
// Owned by Downloader.
class LocalBlockCopier
{
public:
    // Where a block goes: a temp file (its path as Journal::tempFile takes it), the offset in it.
    using Target = QPair<QString, qint64>;

    LocalBlockCopier(const QString &root, EnginePools &pools);

    // Forgets what it knew, then notes where each block of `wanted` is found in `sources`.
    void index(const JournalState &sources, const QSet<ContentHash> &wanted);
    // A file this run installed at `path`, `recorded` its stat right after the rename.
    void add(const RelativePath &path, const QList<protocol::BlockRef> &blocks,
        const std::shared_ptr<const JournalEntry> &recorded);
    bool has(const ContentHash &hash) const { return m_localSources.contains(hash); }
    // The block's XXH3 check (Chunker::checkOf), when the entry it was indexed from has valid checks.
    std::optional<quint64> checkOf(const ContentHash &hash) const;
    // Copies each block into its targets on the work pool; the future yields the blocks
    // that were written everywhere. `cancel` is checked between blocks.
    QFuture<QSet<ContentHash>> start(const QList<QPair<protocol::BlockRef, QList<Target>>> &blocks,
        const std::shared_ptr<std::atomic_bool> &cancel) const;

    // For tests: called on the pool once the stat of `source` proved it unchanged, just
    // before its blocks are copied without reading them (to change it under the copy).
    static void setDuringProvenCopyForTests(std::function<void(const QString &source)> hook);

private:
    // Where a block can be read locally: a file, the offset in it, and the stat recorded
    // with the block list that offset comes from (the journal's, or this run's own install).
    // Per block, not per path: a path replaced during the run keeps its old blocks under
    // the old stat, which the new file cannot match (they are then verified, not trusted).
    struct LocalBlock
    {
        QString path; // relative to the root
        qint64 offset = 0;
        std::shared_ptr<const JournalEntry> recorded;
    };
    // A block found in a local file, to be written into the temp files that need it.
    struct LocalCopy
    {
        protocol::BlockRef block;
        qint64 sourceOffset = 0;
        QList<QPair<QString, qint64>> targets; // temp path, offset
    };
    // The blocks of one job found in one local file under one recorded stat.
    struct LocalSource
    {
        QString path; // relative to the root
        std::shared_ptr<const JournalEntry> recorded;
        QList<LocalCopy> copies;
    };
    // Thread pool: copies (verified, or stat-proven, see there); returns the blocks that
    // were written everywhere.
    static QSet<ContentHash> copyLocalBlocks(
        const QString &root, const QList<LocalSource> &sources, const std::atomic_bool *cancel);
    static bool copyProven(const QString &root, int fd, const LocalSource &source, QHash<QString, int> &targets,
        QList<bool> &ok, const std::atomic_bool *cancel);
    static void copyVerified(const QString &root, int fd, const LocalSource &source, QHash<QString, int> &targets,
        QList<bool> &ok, const std::atomic_bool *cancel);

    QString m_root;
    EnginePools &m_pools;
    QHash<ContentHash, LocalBlock> m_localSources;
    QHash<ContentHash, quint64> m_knownChecks; // of blocks in m_localSources whose entry has valid checks
};

} // namespace filesync
