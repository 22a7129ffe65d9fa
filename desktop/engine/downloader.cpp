#include "downloader.h"

#include "blockcodec.h"
#include "blockwriter.h"
#include "chunker.h"
#include "enginelogging.h"
#include "enginepools.h"
#include "journal.h"
#include "localfs.h"
#include "prefetcher.h"
#include "scanner.h"
#include "serverconnection.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QSet>
#include <QThreadPool>
#include <QTimer>
#include <QUuid>
#include <QtConcurrent>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace filesync {

using namespace protocol;

struct Downloader::File
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

Downloader::Downloader(
    const QString &root, Journal &journal, ServerConnection &connection, EnginePools &pools, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_tmpDir(Journal::tempDir(root))
    , m_journal(journal)
    , m_connection(connection)
    , m_pools(pools)
    , m_copier(root, pools)
    , m_batch(root, pools)
{
    connect(&m_batch, &DurableBatch::synced, this, &Downloader::onSynced);
    m_settleTimer.setSingleShot(true);
    m_settleTimer.setInterval(kSettleMs);
    connect(&m_settleTimer, &QTimer::timeout, this, [this] {
        m_settleGaveUp = m_next; // taken as it is: what is still on its way is fetched again
        onPrefetchSettled();
    });
}

Downloader::~Downloader()
{
    abort();
}

void Downloader::abort()
{
    ++m_generation;
    if (m_cancel)
        m_cancel->store(true);
    for (auto &copy : m_localCopies)
        copy.waitForFinished(); // at most one block each: they check between blocks
    m_localCopies.clear();
    recordLanded();
    // A sync under way only touches paths it was given; its result reaches nobody.
    for (auto &[id, f] : m_files) {
        Q_UNUSED(id);
        if (f->fd >= 0)
            ::close(f->fd);
        if (!f->landed)
            Journal::tempFile(m_root, f->tempPath).removeFile();
    }
    m_files.clear();
    m_waiting.clear();
    m_queue.clear();
    m_queuedBytes = 0;
    m_batch.clear();
    m_assembling = 0;
    m_actions.clear();
    m_next = 0;
    m_settleTimer.stop();
    m_settleGaveUp = -1;
    m_running = false;
    m_rootDir = {}; // not held open between runs (an unmount would find the folder busy)
    m_tmpDirOpen = {};
}

void Downloader::recordLanded()
{
    // Files already renamed into place hold what the plan wanted. Recorded now (once
    // their directory entries are durable), a stop, pause or lost connection between a
    // rename and its batch's sync never leaves a synced file the journal does not know,
    // which the next cycle would have to take for new here (and, edited meanwhile, for a
    // conflict). At most one batch of directories is synced, on this thread.
    const QList<quint64> landed = m_batch.renames();
    if (landed.isEmpty() || !m_journal.isOpen())
        return;
    if (!m_batch.syncRenamesNow())
        return; // not known to be durable: the next cycle finds them as they are
    record(filesOf(landed));
}

// A file's entry: its stat, and the server's blocks and version.
JournalEntry Downloader::entryFor(const File &file, const LocalEntry &stat)
{
    LocalEntry l = stat;
    l.blocks = file.action.remote.blocks;
    l.blockChecks = file.checksKnown ? Chunker::checksFor(l.blocks, file.checks) : QByteArray();
    return journalEntryFor(l, file.action.remote.version);
}

// Files whose rename is durable, each with its stat right after the rename.
void Downloader::record(const QList<File *> &files, const QList<File *> &landing)
{
    m_journal.begin();
    for (const File *f : files)
        m_journal.put(f->action.path, entryFor(*f, *f->landed));
    Journal::Landing next;
    for (const File *f : landing) {
        if (f->assembledStat)
            next.append({ f->action.path, entryFor(*f, *f->assembledStat) });
    }
    m_journal.setLanding(next);
    m_journal.commit();
}

void Downloader::run(
    const QList<SyncAction> &files, const JournalState &sources, const QSet<RelativePath> &missingFolders)
{
    abort();
    m_missingFolders = missingFolders;
    m_complete = true;
    m_running = true;
    m_inFlight = 0;
    m_batchesInFlight = 0;
    m_actions = files;
    m_cancel = std::make_shared<std::atomic_bool>(false);
    // Only the blocks these files need: indexing every block of a 20,000-file journal on
    // every cycle (a path string each) cost tens of milliseconds even with nothing to fetch.
    QSet<ContentHash> wanted;
    for (const SyncAction &action : files) {
        for (const BlockRef &b : action.remote.blocks)
            wanted.insert(b.hash);
    }
    m_copier.index(sources, wanted);
    // The metadata dir is never re-created here: without it the folder is stopping.
    m_rootDir = localfs::openDir(m_root, QString());
    m_tmpDirOpen = localfs::openDir(m_root, Journal::tempDirRelative());
    if (!files.isEmpty() && !m_tmpDirOpen) {
        localfs::Location::at(m_rootDir, Journal::tempDirRelative()).makeDir(0700); // private: files being downloaded
        m_tmpDirOpen = localfs::openDir(m_root, Journal::tempDirRelative());
    }
    admit();
    pump();
    checkDone();
}

// Takes the next files of the plan while the bounds allow: their temp files are
// created, their blocks queued (or copied from local files on the pool).
void Downloader::admit()
{
    const int generation = m_generation;
    QList<BlockRef> local;
    QList<File *> empty;
    while (m_running && m_next < m_actions.size() && int(m_files.size()) < kMaxUninstalled
        && (m_assembling == 0 || (m_assembling < kMaxOpenFiles && m_queuedBytes < kWindowBytes))) {
        if (waitForPrefetch(m_actions.at(m_next)))
            break; // in order: the files after it wait too (for at most kSettleMs)
        const SyncAction &action = m_actions.at(m_next++);
        auto owned = std::make_unique<File>();
        File *f = owned.get();
        f->id = ++m_nextId;
        f->action = action;
        f->since.start();
        // A temp file prefetched while the other computer uploaded this very
        // block list already holds (verified) blocks; only the rest are brought below.
        const std::optional<Prefetcher::Taken> prefetched = adoptPrefetched(*f);
        if (!prefetched) {
            f->tempPath = m_tmpDir + u'/' + QUuid::createUuid().toString(QUuid::WithoutBraces);
            f->fd = tempFile(*f).open(O_RDWR | O_CREAT | O_EXCL, 0600).release();
        }
        if (f->fd < 0) {
            m_complete = false;
            Q_EMIT fileSkipped(action,
                QStringLiteral("cannot write a temporary file: %1").arg(QString::fromLocal8Bit(strerror(errno))));
            if (generation != m_generation)
                return; // a handler aborted us
            continue;
        }
        m_files.emplace(f->id, std::move(owned));
        ++m_assembling;
        if (action.remote.blocks.size() >= Chunker::kChecksFromBlocks) {
            f->checksKnown = true;
            f->checks.resize(size_t(action.remote.blocks.size()));
            f->starts.reserve(size_t(action.remote.blocks.size()));
            qint64 start = 0;
            for (const BlockRef &b : action.remote.blocks) {
                f->starts.push_back(start);
                start += b.size;
            }
        }
        qint64 offset = 0;
        for (qsizetype i = 0; i < action.remote.blocks.size(); ++i) {
            const BlockRef &b = action.remote.blocks.at(i);
            if (prefetched && prefetched->written.at(i)) {
                offset += b.size;
                continue;
            }
            auto waiting = m_waiting.find(b.hash);
            const bool first = waiting == m_waiting.end();
            if (first)
                waiting = m_waiting.insert(b.hash, {});
            waiting->append({ f, offset });
            ++f->pending;
            offset += b.size;
            if (!first)
                continue; // requested already: its arrival serves this file too
            if (m_copier.has(b.hash)) {
                local.append(b);
            } else {
                m_queue.append(b);
                m_queuedBytes += b.size;
            }
        }
        if (f->pending == 0)
            empty.append(f);
    }
    if (!local.isEmpty())
        startLocalCopies(local);
    for (File *f : std::as_const(empty))
        assembled(*f);
}

// The other computer's commit of a file this computer is prefetching has
// come while some of the prefetch's requests are still under way (the commit only waited
// for the upload, not for our replies). Taken now, the file would get those blocks a
// second time from the server (up to the Prefetcher's window: 32 MiB of a 1 GiB file);
// so admission waits until they are written (settled()), for at most kSettleMs.
bool Downloader::waitForPrefetch(const SyncAction &action)
{
    // Already waiting for this action (admission stops at it): admit() runs after every
    // written block, and settle() compares whole block lists.
    if (m_settleTimer.isActive())
        return true;
    Prefetcher *prefetcher = m_connection.prefetcher();
    if (!prefetcher || action.kind != EntryKind::File || m_settleGaveUp == m_next
        || !prefetcher->settle(action.path, action.remote.blocks))
        return false;
    connect(prefetcher, &Prefetcher::settled, this, &Downloader::onPrefetchSettled, Qt::UniqueConnection);
    m_settleTimer.start();
    return true;
}

void Downloader::onPrefetchSettled()
{
    m_settleTimer.stop();
    admit();
    pump();
    checkDone();
}

// The prefetched temp file of exactly the file's block list, opened for the file, or
// nothing (no prefetch, another list, or the temp file is gone: then a fresh one is made).
std::optional<Prefetcher::Taken> Downloader::adoptPrefetched(File &file)
{
    Prefetcher *prefetcher = m_connection.prefetcher();
    if (!prefetcher || file.action.kind != EntryKind::File)
        return std::nullopt;
    auto taken = prefetcher->take(file.action.path, file.action.remote.blocks);
    if (!taken)
        return std::nullopt;
    file.tempPath = taken->tempPath;
    const localfs::Location temp = Journal::tempFile(m_root, file.tempPath);
    file.fd = temp.open(O_RDWR).release();
    if (file.fd < 0) {
        temp.removeFile();
        return std::nullopt;
    }
    qCInfo(lcPrefetch) << "adopting the prefetch of" << file.action.path.toString() << ":" << taken->writtenBytes
                       << "of" << file.action.remote.size << "bytes already here";
    m_adoptedBytes += taken->writtenBytes;
    Q_EMIT bytesDone(taken->writtenBytes);
    return taken;
}

// Blocks found on this computer need no network: they are copied on the pool (and
// fetched after all if their source changed); the rest are fetched meanwhile.
void Downloader::startLocalCopies(const QList<BlockRef> &blocks)
{
    QList<QPair<BlockRef, QList<LocalBlockCopier::Target>>> copies;
    QList<QPair<BlockRef, int>> job; // block, how many of its waiting targets the copy serves
    for (const BlockRef &b : blocks) {
        QList<LocalBlockCopier::Target> to;
        const QList<Target> &targets = m_waiting.value(b.hash);
        for (const Target &t : targets)
            to.append({ t.file->tempPath, t.offset });
        copies.append({ b, to });
        job.append({ b, int(targets.size()) });
    }
    // One watcher per job: a late signal of an aborted run cannot reach this one.
    auto *watcher = new QFutureWatcher<QSet<ContentHash>>(this);
    const int generation = m_generation;
    auto future = m_copier.start(copies, m_cancel);
    m_localCopies.append(future);
    connect(watcher, &QFutureWatcher<QSet<ContentHash>>::finished, this, [this, watcher, generation, job] {
        watcher->deleteLater();
        if (generation != m_generation)
            return;
        m_localCopies.removeIf([](const QFuture<QSet<ContentHash>> &f) { return f.isFinished(); });
        onLocalCopied(job, watcher->result());
    });
    watcher->setFuture(future);
}

void Downloader::onLocalCopied(const QList<QPair<BlockRef, int>> &job, const QSet<ContentHash> &written)
{
    for (const auto &[b, served] : job) {
        auto waiting = m_waiting.find(b.hash);
        if (waiting == m_waiting.end())
            continue;
        if (written.contains(b.hash)) {
            Q_EMIT bytesDone(b.size);
            // The copy wrote into the files that waited when it started; files admitted
            // since then still wait, and get the block from the server.
            const QList<Target> done = waiting->mid(0, served);
            waiting->remove(0, qMin(served, int(waiting->size())));
            if (waiting->isEmpty())
                m_waiting.erase(waiting);
            else
                m_queue.append(b);
            const std::optional<quint64> check = m_copier.checkOf(b.hash);
            for (const Target &t : done) {
                t.file->setCheck(t.offset, check);
                delivered(*t.file);
            }
        } else {
            m_queue.append(b); // its local source changed: the server has it
        }
    }
    admit();
    pump();
    checkDone();
}

void Downloader::pump()
{
    // Small blocks are asked for several to a GetBlocks, not one request and one reply
    // per file on each of three processes. Files are admitted a few at a
    // time, so a batch that is not full waits while another is under way (its reply calls
    // pump() again), as Nagle's algorithm does: at most one round trip later, and many
    // blocks a request instead of one or two.
    // While a batch is under way a queue too short to fill one waits for its reply as a
    // whole (a big block in it too, by at most that round trip): pump() runs after every
    // written block, and taking the queue apart only to put it back each time was waste.
    if (m_batchesInFlight > 0 && m_queue.size() < kBatchBlocks && m_queuedBytes < kBatchBytes)
        return;
    QList<BlockRef> batch;
    qint64 batchBytes = 0;
    while (!m_queue.isEmpty() && m_inFlight < kWindowBytes) {
        const BlockRef block = m_queue.takeFirst();
        m_queuedBytes = qMax<qint64>(0, m_queuedBytes - block.size);
        m_inFlight += block.size;
        if (block.size <= kBatchBlockBytes) {
            batch.append(block);
            batchBytes += block.size;
            if (batch.size() >= kBatchBlocks || batchBytes >= kBatchBytes) {
                fetchBatch(std::exchange(batch, {}));
                batchBytes = 0;
            }
            continue;
        }
        const int generation = m_generation;
        m_connection.getBlock(block.hash, [this, block, generation](const Reply<BlockPayload> &payload) {
            if (generation != m_generation)
                return;
            if (!payload || payload->hash != block.hash || payload->rawSize != block.size) {
                m_inFlight -= block.size;
                onBlockFailed(block.hash, !payload ? payload.message : QStringLiteral("the server sent another block"));
                admit();
                pump();
                checkDone();
                return;
            }
            // Verified and written on the pool: the engine thread reads the next replies
            // meanwhile. The block stays in the window until it is written.
            writeBlock(block, *payload);
        });
    }
    if (batch.isEmpty())
        return;
    if (m_batchesInFlight == 0)
        return fetchBatch(batch);
    for (qsizetype i = batch.size() - 1; i >= 0; --i) { // first in line again, in order
        m_inFlight -= batch.at(i).size;
        m_queuedBytes += batch.at(i).size;
        m_queue.prepend(batch.at(i));
    }
}

void Downloader::fetchBatch(const QList<BlockRef> &blocks)
{
    QList<ContentHash> hashes;
    hashes.reserve(blocks.size());
    for (const BlockRef &b : blocks)
        hashes.append(b.hash);
    ++m_batchesFetched;
    ++m_batchesInFlight;
    const int generation = m_generation;
    m_connection.getBlocks(hashes, [this, blocks, generation](const Reply<BlockBatch> &reply) {
        if (generation != m_generation)
            return;
        --m_batchesInFlight;
        // The server answers in request order: each asked block is in `blocks` (next in
        // line), or listed as missing (the account may not read it) or later (ask again).
        const QSet<ContentHash> later
            = reply ? QSet<ContentHash>(reply->later.cbegin(), reply->later.cend()) : QSet<ContentHash>();
        qsizetype at = 0;
        int requeued = 0;
        for (const BlockRef &block : blocks) {
            QString failure = !reply ? reply.message : QStringLiteral("no such block in this account");
            if (reply && at < reply->blocks.size() && reply->blocks.at(at).hash == block.hash) {
                const BlockPayload &payload = reply->blocks.at(at++);
                if (payload.rawSize == block.size) {
                    writeBlock(block, payload); // verified there: a lying block fails its file
                    continue;
                }
                failure = QStringLiteral("the server sent another block");
            } else if (reply && later.contains(block.hash)) {
                m_inFlight -= block.size;
                m_queue.insert(requeued++, block); // first in line again
                m_queuedBytes += block.size;
                continue;
            }
            m_inFlight -= block.size;
            onBlockFailed(block.hash, failure);
        }
        admit();
        pump();
        checkDone();
    });
}

void Downloader::writeBlock(const BlockRef &block, const BlockPayload &payload)
{
    const QList<Target> targets = m_waiting.value(block.hash);
    QList<BlockWriter::Target> writes;
    writes.reserve(targets.size());
    bool wantCheck = false;
    for (const Target &t : targets) {
        writes.append({ t.file->failed ? -1 : t.file->fd, t.offset });
        wantCheck = wantCheck || t.file->checksKnown;
    }
    const int generation = m_generation;
    m_writer.write(payload, writes, wantCheck, [this, block, generation](const BlockWriter::Outcome &outcome) {
        if (generation != m_generation)
            return;
        m_inFlight -= block.size;
        if (!outcome.verified()) {
            onBlockFailed(block.hash, outcome.error);
        } else {
            Q_EMIT bytesDone(block.size);
            onBlockWritten(block, outcome);
        }
        if (generation != m_generation)
            return;
        admit();
        pump();
        checkDone();
    });
}

// The files that waited when the write started have the block now (or a failed write);
// files admitted since then still wait, and get the block from the server again.
void Downloader::onBlockWritten(const BlockRef &block, const BlockWriter::Outcome &outcome)
{
    auto waiting = m_waiting.find(block.hash);
    if (waiting == m_waiting.end())
        return;
    const qsizetype served = qMin(outcome.writeErrors.size(), waiting->size());
    const QList<Target> done = waiting->mid(0, served);
    waiting->remove(0, served);
    if (waiting->isEmpty())
        m_waiting.erase(waiting);
    else
        m_queue.append(block);
    for (qsizetype i = 0; i < done.size(); ++i) {
        File &file = *done.at(i).file;
        file.setCheck(done.at(i).offset, outcome.check);
        if (file.failed) {
            // failed meanwhile: nothing more to do for it
        } else if (const int error = outcome.writeErrors.at(i)) {
            failFile(file, QStringLiteral("cannot write: %1").arg(QString::fromLocal8Bit(strerror(error))));
        } else if ((file.unflushed += outcome.size) >= localfs::kWriteBackBytes) {
            file.unflushed = 0;
            localfs::startWriteBackOnPool(m_pools, file.fd);
        }
        delivered(file);
    }
}

void Downloader::onBlockFailed(const ContentHash &hash, const QString &reason)
{
    const QList<Target> targets = m_waiting.take(hash);
    for (const Target &t : targets) {
        if (!t.file->failed)
            failFile(*t.file, reason);
        delivered(*t.file);
    }
}

// One of the file's blocks was written (or will never be): the last one completes it.
void Downloader::delivered(File &file)
{
    if (--file.pending > 0)
        return;
    if (file.failed)
        release(file);
    else
        assembled(file);
}

// Every block is in: the file gets its time and mode, and waits for the next sync.
void Downloader::assembled(File &file)
{
    const SyncAction &a = file.action;
    // Permission bits only: set-id and sticky bits from another computer are not ours.
    ::fchmod(file.fd, mode_t(a.remote.mode ? (a.remote.mode & 0777) : 0644));
    const qint64 ms = a.remote.mtimeMs;
    const timespec times[2]
        = { { time_t(ms / 1000), long((ms % 1000) * 1000000) }, { time_t(ms / 1000), long((ms % 1000) * 1000000) } };
    ::futimens(file.fd, times);
    file.assembledStat = localfs::statFd(file.fd);
    ::close(file.fd);
    file.fd = -1;
    file.assembledMs = file.since.elapsed();
    --m_assembling;
    m_batch.addFile(file.id, file.tempPath);
    m_batch.start();
}

QList<Downloader::File *> Downloader::filesOf(const QList<quint64> &ids) const
{
    QList<File *> files;
    files.reserve(ids.size());
    for (const quint64 id : ids)
        files.append(m_files.at(id).get()); // held until recorded or given up, after its batch
    return files;
}

void Downloader::onSynced(bool ok, const QList<quint64> &syncedIds, const QList<quint64> &renamedIds)
{
    const QList<File *> synced = filesOf(syncedIds);
    const QList<File *> renamed = filesOf(renamedIds);
    if (!ok) {
        qCWarning(lcDownload) << "cannot make downloaded files durable";
        for (File *f : synced) {
            failFile(*f, QStringLiteral("cannot make it durable"));
            release(*f);
        }
        // At their final path, but not known to be durable there: not recorded, so the
        // next cycle finds them as they are (identical to the server's: just recorded).
        for (File *f : renamed) {
            m_complete = false;
            Q_EMIT fileSkipped(f->action, QStringLiteral("cannot make it durable"));
            release(*f);
        }
    } else {
        Q_EMIT batchSynced(int(synced.size()), int(renamed.size()));
        // The files about to be renamed are noted first: a crash after a rename and
        // before its record leaves nothing the next start does not know as ours.
        if (!renamed.isEmpty() || !synced.isEmpty())
            record(renamed, synced);
        const int generation = m_generation;
        for (File *f : renamed) {
            const SyncAction action = f->action;
            release(*f);
            Q_EMIT fileDone(action);
            if (generation != m_generation)
                return; // a handler aborted us
        }
        // The batch's folders resolved once each, for this pass only.
        localfs::FolderCache folders(m_rootDir);
        for (File *f : synced)
            install(*f, folders);
    }
    m_batch.start(); // the new renames' entries, and whatever was assembled meanwhile
    admit();
    pump();
    checkDone();
}

// The file's bytes are durable: it replaces what the plan saw at its path. Reached
// beneath the root: a link on the way or at the path is reported, never followed.
void Downloader::install(File &file, localfs::FolderCache &folders)
{
    const SyncAction &a = file.action;
    auto skip = [this, &file](const QString &reason) {
        failFile(file, reason);
        release(file);
    };
    auto inTheWay = [&](const QString &problem) {
        Q_EMIT warning(tr("%1 is left alone: %2").arg(a.path.toString(), problem));
        skip(QStringLiteral("a link or special file is in the way"));
    };
    const auto linkAt = [&a] {
        return QStringLiteral("%1 is a link or special file, which is never followed").arg(a.path.toString());
    };
    localfs::Location at = folders.at(a.path);
    if (at.inTheWay())
        return inTheWay(at.dir().problem());
    // The path must still hold what the plan saw (nothing, or the unchanged old entry):
    // anything else is the user's new work, which we never overwrite.
    // A new file's path is not stat'ed first: RENAME_NOREPLACE below refuses anything that
    // is there (EEXIST), which is exactly the case the check would have refused.
    const auto now = a.local ? at.stat() : std::nullopt;
    // Not even the link itself is replaced: it is the user's, and the scan skips it.
    if (now && at.isLinkOrSpecial())
        return inTheWay(linkAt());
    bool unchanged = !now.has_value();
    if (a.local && now && now->kind == a.local->kind)
        unchanged = a.local->isDir()
            || (now->size == a.local->size && now->mtimeNs == a.local->mtimeNs && now->inode == a.local->inode);
    if (!unchanged)
        return skip(QStringLiteral("changed on this computer meanwhile"));
    const localfs::Location temp = tempFile(file);
    // A file replaces a folder (changed into a file elsewhere) only once the folder is
    // empty: its unchanged content was deleted first, anything new in it stays.
    if (now && now->isDir() && !at.removeDir())
        return skip(QStringLiteral("the folder there is not empty"));
    // A big old version is held open over its replacement: the last reference to it,
    // which frees its blocks (0.4 s for 1 GiB here, inside rename(2) otherwise), is then
    // dropped on the pool, after the new version is already in place.
    const int old
        = now && !now->isDir() && now->size >= kReleaseOnPoolBytes ? at.open(O_RDONLY | O_NONBLOCK).release() : -1;
    // Over an unchanged old file: an atomic replace. Onto a free path: never over
    // something that appeared there since the check.
    bool renamed = now && !now->isDir() ? localfs::renameReplacing(temp, at) : localfs::renameNoReplace(temp, at);
    int error = renamed ? 0 : errno;
    // Its folder is made only when the rename says it is missing (ENOENT): checking and
    // making every level for every file costs 5 system calls per file. A folder the
    // journal knows that the scan saw and that is gone now was renamed or deleted here
    // meanwhile: made again, it stood twice after a rename (and what other computers
    // deleted in it came back from here); the next cycle places the file. One the scan
    // already missed is made: the plan brings it back for the server's new content.
    if (!renamed && !now && error == ENOENT) {
        if (const RelativePath known = m_journal.knownFolderAbove(a.path);
            !known.isRoot() && !m_missingFolders.contains(known) && !folders.at(known).stat())
            return skip(QStringLiteral("its folder was renamed or deleted on this computer meanwhile"));
        at = folders.makingFolders(a.path);
        if (at.inTheWay())
            return inTheWay(at.dir().problem()); // nothing was there: `old` is not open
        if (!at.ok())
            return skip(QStringLiteral("cannot create its folder"));
        renamed = localfs::renameNoReplace(temp, at);
        error = renamed ? 0 : errno;
    }
    if (old >= 0)
        m_pools.start(m_pools.writeBack(), [old] { ::close(old); });
    if (!renamed && !now && error == EEXIST)
        return at.isLinkOrSpecial() ? inTheWay(linkAt()) : skip(QStringLiteral("changed on this computer meanwhile"));
    if (!renamed)
        return skip(QStringLiteral("cannot move into place: %1").arg(QString::fromLocal8Bit(strerror(error))));
    file.landed = at.stat();
    qCDebug(lcDownload) << "installed" << a.path.toString() << "(" << a.remote.size << "bytes): assembled after"
                        << file.assembledMs << "ms, in place after" << file.since.elapsed() << "ms";
    if (!file.landed) {
        // Gone again at once (removed by the user): nothing to record.
        m_complete = false;
        Q_EMIT fileSkipped(a, QStringLiteral("removed on this computer meanwhile"));
        return release(file);
    }
    // Its stat right after the rename proves it unchanged later just as a journal entry
    // would: blocks copied from it need not be re-read while this stat holds.
    const auto recorded = std::make_shared<const JournalEntry>(journalEntryFor(*file.landed, a.remote.version));
    m_copier.add(a.path, a.remote.blocks, recorded);
    m_batch.addRenamed(file.id, a.path); // recorded once the next sync made its directory entry durable
}

localfs::Location Downloader::tempFile(const File &file) const
{
    return localfs::Location::inOpen(m_tmpDirOpen, file.tempPath);
}

void Downloader::failFile(File &file, const QString &reason)
{
    file.failed = true;
    if (file.fd >= 0) {
        ::close(file.fd);
        file.fd = -1;
        --m_assembling;
    }
    if (!file.landed)
        Journal::tempFile(m_root, file.tempPath).removeFile();
    m_complete = false;
    Q_EMIT fileSkipped(file.action, reason);
}

// The file is recorded (or given up) and no block delivery refers to it any more.
void Downloader::release(File &file)
{
    if (file.pending > 0)
        return; // a block still on its way names it: released by delivered()
    m_files.erase(file.id);
}

void Downloader::checkDone()
{
    if (!m_running || m_next < m_actions.size() || !m_files.empty() || m_batch.isRunning() || !m_localCopies.isEmpty())
        return;
    m_running = false;
    m_actions.clear();
    m_rootDir = {};
    m_tmpDirOpen = {};
    Q_EMIT finished(m_complete);
}

} // namespace filesync
