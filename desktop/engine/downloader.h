#pragma once

#include "syncplan.h"

#include <QFuture>
#include <QHash>
#include <QObject>
#include <QSet>

#include <atomic>
#include <memory>

namespace filesync {

class Journal;
class ServerConnection;

// Brings server files to the disk: each file is assembled in a temporary file inside
// the metadata directory from blocks already on this computer (read and re-verified) and
// blocks fetched from the server (pipelined, at most kWindowBytes in flight), every block
// checked against its hash; then synced, given its mtime and mode, and renamed over the
// final path in one atomic step, only if that path still holds what the plan saw. No
// partial file ever appears at a final path. Engine thread; the local block copies run
// on the thread pool (a big file's reused blocks must not stall the event loop), in
// parallel with the network fetches. Owned by Propagator.
class Downloader : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kWindowBytes = 32 * 1024 * 1024;

    Downloader(const QString &root, Journal &journal, ServerConnection &connection, QObject *parent = nullptr);
    ~Downloader() override;

    // `sources`: where blocks can be found locally (journal state at the cycle's start).
    void run(const QList<SyncAction> &files, const JournalState &sources);
    void abort();

Q_SIGNALS:
    void fileDone(const filesync::SyncAction &action);
    void fileSkipped(const filesync::SyncAction &action, const QString &reason);
    void bytesDone(qint64 bytes);
    void finished(bool complete); // complete: every file landed (or was skipped on purpose)

private:
    struct File;
    // A block found in a local file, to be written into the temp files that need it.
    struct LocalCopy
    {
        protocol::BlockRef block;
        QString source;
        qint64 sourceOffset = 0;
        QList<QPair<QString, qint64>> targets; // temp path, offset
    };
    // Thread pool: copies and verifies; returns the blocks that were written everywhere.
    static QSet<ContentHash> copyLocalBlocks(const QList<LocalCopy> &copies, const std::atomic_bool *cancel);
    void onLocalCopied(const QSet<ContentHash> &written);
    void onBlockWritten(const ContentHash &hash);
    void pump();
    void onBlock(const ContentHash &hash, const QByteArray &raw);
    void onBlockFailed(const ContentHash &hash, const QString &reason);
    void writeBlock(File &file, qint64 offset, const QByteArray &raw);
    void finishFile(File &file);
    void failFile(File &file, const QString &reason);
    void skipFile(File &file, const QString &reason); // complete but not installed
    void checkDone();

    QString m_root;
    Journal &m_journal;
    ServerConnection &m_connection;
    std::vector<std::unique_ptr<File>> m_files;
    QHash<ContentHash, QList<QPair<File *, qint64>>> m_waiting; // hash -> (file, offset)
    QList<protocol::BlockRef> m_queue; // blocks still to request
    QHash<ContentHash, QPair<QString, qint64>> m_localSources; // hash -> (absolute path, offset)
    QList<protocol::BlockRef> m_localCandidates; // being copied on the pool
    QFuture<QSet<ContentHash>> m_localCopy;
    std::shared_ptr<std::atomic_bool> m_cancel;
    bool m_localPending = false;
    qint64 m_inFlight = 0;
    bool m_complete = true;
    bool m_running = false;
    int m_generation = 0;
};

} // namespace filesync
