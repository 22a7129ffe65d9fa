#include "downloader.h"

#include "chunker.h"
#include "enginelogging.h"
#include "journal.h"
#include "localfs.h"
#include "prefetcher.h"
#include "serverconnection.h"

#include <QSet>
#include <QUuid>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

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
