#pragma once

#include "blockwriter.h"
#include "durablebatch.h"
#include "enginepools.h"
#include "localblockcopier.h"
#include "localfs.h"
#include "prefetcher.h"
#include "syncplan.h"

#include <QElapsedTimer>
#include <QFuture>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace filesync {

class Journal;
class ServerConnection;

// Brings server files to the disk: each file is assembled in a temporary file inside
// the metadata directory from blocks already on this computer and blocks fetched from
// the server (pipelined, at most kWindowBytes in flight, each checked against its hash).
// A local block is copied unread (copy_file_range) when its file's stat proves it
// unchanged since its block list was recorded, before and after the copy (else it is
// fetched); otherwise it is read and re-hashed. Then made durable, given its mtime and mode, and renamed over
// the final path in one atomic step, only if that path still holds what the plan saw. No
// partial file ever appears at a final path. A file of 16 blocks or more is recorded with
// its blocks' XXH3 checks (fetched: from the bytes; copied: from the source's recorded
// checks), so that its first edit here re-cuts only what changed.
//
// Group commit: files are not synced one by one. While one sync runs on the thread pool,
// finished files gather; the next sync makes all of them durable at once (their
// write-back started together, then an fdatasync() each) together with the directory entries of
// the files renamed after the previous one. A file is renamed only once its bytes are
// durable, and recorded in the journal (one transaction per batch) only once its rename
// is: the journal never claims a file that is not durably at its final path.
//
// Memory and descriptors are bounded: the plan is taken in order, at most kMaxOpenFiles
// temp files are being assembled at once and at most kMaxUninstalled are between their
// admission and their journal record; a file's state is dropped once it is recorded.
//
// Engine thread; the local block copies and the syncs run on the engine's pools (work,
// sync; writes of received blocks on blockWriter, write-back starts on writeBack), in
// parallel with the network fetches. Owned by Propagator.
class Downloader : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kWindowBytes = 32 * 1024 * 1024;
    static constexpr int kMaxOpenFiles = 256;
    static constexpr int kMaxUninstalled = 4096;
    // A replaced old version at least this big is released on a pool thread (see install()).
    static constexpr qint64 kReleaseOnPoolBytes = 16 * 1024 * 1024;
    // How long admission waits for a prefetch's requests under way (see waitForPrefetch()).
    static constexpr int kSettleMs = 2000;

    Downloader(const QString &root, Journal &journal, ServerConnection &connection, EnginePools &pools,
        QObject *parent = nullptr);
    ~Downloader() override;

    // `sources`: where blocks can be found locally (journal state at the cycle's start).
    // `missingFolders`: see SyncPlan; the only known folders made again on the way.
    void run(
        const QList<SyncAction> &files, const JournalState &sources, const QSet<RelativePath> &missingFolders = {});
    void abort();

    // For tests: files state is held for right now (admitted, not yet recorded), and the
    // number of syncs run so far in this object's life.
    int filesHeld() const { return int(m_files.size()); }
    int syncsRun() const { return m_batch.batchesRun(); }
    int batchesFetched() const { return m_batchesFetched; } // GetBlocks requests
    // Bytes found already written in prefetched temp files this object adopted.
    qint64 adoptedBytes() const { return m_adoptedBytes; }

Q_SIGNALS:
    void fileDone(const filesync::SyncAction &action);
    void fileSkipped(const filesync::SyncAction &action, const QString &reason);
    // Something the user should know: a link or special file in the way of a download.
    void warning(const QString &message);
    void bytesDone(qint64 bytes);
    // A batch was made durable: `files` temp files, `renamed` renames. For tests: the
    // journal records a file only after a batchSynced that covered its rename.
    void batchSynced(int files, int renamed);
    void finished(bool complete); // complete: every file landed (or was skipped on purpose)

private:
    struct File
    {
        quint64 id = 0;
        SyncAction action;
        QString tempPath;
        int fd = -1; // open while the file is assembled
        int pending = 0; // deliveries (written or failed) still to come from m_waiting
        qint64 unflushed = 0; // bytes written by the engine thread since its last write-back start
        bool failed = false;
        std::optional<LocalEntry> assembledStat; // in the temp folder, once assembled
        std::optional<LocalEntry> landed; // its stat right after the rename
        QElapsedTimer since; // admitted; for the debug log of a file's stages
        qint64 assembledMs = -1;
        // The XXH3 check of each block (Chunker::checkOf), gathered as the blocks are written
        // and recorded with the file, so that its first edit here re-cuts only what changed.
        // For files of Chunker::kChecksFromBlocks blocks or more; `checksKnown` false once a
        // block came without one (a copy from a local file that has none).
        std::vector<qint64> starts; // of each block in the file
        std::vector<quint64> checks;
        bool checksKnown = false;

        void setCheck(qint64 offset, std::optional<quint64> check)
        {
            if (!checksKnown)
                return;
            const auto at = std::lower_bound(starts.cbegin(), starts.cend(), offset);
            if (!check || at == starts.cend() || *at != offset) {
                checksKnown = false;
                return;
            }
            checks[size_t(at - starts.cbegin())] = *check;
        }
    };
    struct Target
    {
        File *file;
        qint64 offset;
    };

    void admit();
    bool waitForPrefetch(const SyncAction &action);
    void onPrefetchSettled();
    std::optional<Prefetcher::Taken> adoptPrefetched(File &file);
    void startLocalCopies(const QList<protocol::BlockRef> &blocks);
    void onLocalCopied(const QList<QPair<protocol::BlockRef, int>> &job, const QSet<ContentHash> &written);
    void pump();
    void fetchBatch(const QList<protocol::BlockRef> &blocks); // one GetBlocks
    void writeBlock(const protocol::BlockRef &block, const protocol::BlockPayload &payload);
    void onBlockWritten(const protocol::BlockRef &block, const BlockWriter::Outcome &outcome);
    void onBlockFailed(const ContentHash &hash, const QString &reason);
    void delivered(File &file);
    void assembled(File &file);
    QList<File *> filesOf(const QList<quint64> &ids) const;
    void onSynced(bool ok, const QList<quint64> &syncedIds, const QList<quint64> &renamedIds);
    void install(File &file, localfs::FolderCache &folders);
    void failFile(File &file, const QString &reason);
    localfs::Location tempFile(const File &file) const;
    void release(File &file);
    void recordLanded();
    // One journal transaction: `files` (renamed, durably) recorded, and `landing` (about to
    // be renamed) noted as the journal's landing batch (Journal::setLanding).
    void record(const QList<File *> &files, const QList<File *> &landing = {});
    static JournalEntry entryFor(const File &file, const LocalEntry &stat);
    void checkDone();

    QString m_root;
    QString m_tmpDir;
    // Open for a run: each install resolves beneath them without opening them again.
    localfs::Dir m_rootDir;
    localfs::Dir m_tmpDirOpen;
    Journal &m_journal;
    ServerConnection &m_connection;
    EnginePools &m_pools;
    QList<SyncAction> m_actions;
    qsizetype m_next = 0; // the next action to admit
    quint64 m_nextId = 0;
    std::unordered_map<quint64, std::unique_ptr<File>> m_files; // admitted, not yet recorded
    QHash<ContentHash, QList<Target>> m_waiting; // hash -> files waiting for it
    QList<protocol::BlockRef> m_queue; // blocks still to request
    qint64 m_queuedBytes = 0;
    LocalBlockCopier m_copier; // where blocks are found locally, and their copies
    QSet<RelativePath> m_missingFolders; // see SyncPlan
    QList<QFuture<QSet<ContentHash>>> m_localCopies;
    std::shared_ptr<std::atomic_bool> m_cancel;
    DurableBatch m_batch; // assembled and renamed files, made durable in groups
    int m_assembling = 0; // files with an open temp file
    qint64 m_adoptedBytes = 0;
    qint64 m_inFlight = 0;
    bool m_complete = true;
    bool m_running = false;
    int m_generation = 0;
    int m_batchesFetched = 0;
    int m_batchesInFlight = 0; // GetBlocks under way
    QTimer m_settleTimer; // the bound on waitForPrefetch()
    qsizetype m_settleGaveUp = -1; // the action whose prefetch is taken without more waiting
    BlockWriter m_writer { m_pools, this }; // declared last, destroyed first: no callback after the rest
};

} // namespace filesync
