#include "durablebatch.h"

#include "journal.h"
#include "localfs.h"

#include <QFutureWatcher>
#include <QSet>
#include <QThreadPool>
#include <QtConcurrent>

#include <atomic>
#include <fcntl.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace filesync {

DurableBatch::DurableBatch(const QString &root, EnginePools &pools, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_pools(pools)
{ }

void DurableBatch::addFile(quint64 id, const QString &tempPath)
{
    m_ready.append({ id, tempPath });
}

void DurableBatch::addRenamed(quint64 id, const RelativePath &path)
{
    m_renamed.append({ id, path.parent().toString() });
}

QStringList DurableBatch::folders(const QList<Item> &renamed)
{
    QSet<QString> dirSet;
    for (const Item &r : renamed)
        dirSet.insert(r.second);
    return QStringList(dirSet.cbegin(), dirSet.cend());
}

QList<quint64> DurableBatch::renames() const
{
    QList<quint64> ids;
    for (const Item &r : m_syncingRenamed + m_renamed)
        ids.append(r.first);
    return ids;
}

bool DurableBatch::syncRenamesNow() const
{
    return syncBatch(m_pools.sync(), m_root, {}, folders(m_syncingRenamed + m_renamed));
}

void DurableBatch::clear()
{
    ++m_generation;
    m_ready.clear();
    m_renamed.clear();
    m_syncing.clear();
    m_syncingRenamed.clear();
    m_running = false;
}

void DurableBatch::start()
{
    if (m_running || (m_ready.isEmpty() && m_renamed.isEmpty()))
        return;
    m_syncing = std::exchange(m_ready, {});
    m_syncingRenamed = std::exchange(m_renamed, {});
    QStringList files;
    for (const Item &f : std::as_const(m_syncing))
        files.append(f.second);
    const QStringList dirs = folders(m_syncingRenamed);
    m_running = true;
    auto *watcher = new QFutureWatcher<bool>(this);
    const int generation = m_generation;
    connect(watcher, &QFutureWatcher<bool>::finished, this, [this, watcher, generation] {
        watcher->deleteLater();
        if (generation != m_generation)
            return;
        m_running = false;
        ++m_batchesRun;
        QList<quint64> files;
        for (const Item &f : std::exchange(m_syncing, {}))
            files.append(f.first);
        QList<quint64> renamed;
        for (const Item &r : std::exchange(m_syncingRenamed, {}))
            renamed.append(r.first);
        Q_EMIT synced(watcher->result(), files, renamed);
    });
    watcher->setFuture(m_pools.run(m_pools.work(),
        [root = m_root, files, dirs, sync = &m_pools.sync()] { return syncBatch(*sync, root, files, dirs); }));
}

// Our files only. A syncfs() would also wait for everything else dirty on the file
// system: another program's big copy, or the server's writes on the same disk. Write-back
// of a chunk of files is started
// first (sync_file_range), then they are fdatasync'ed WorkerPools::kSyncThreads
// at a time, together with the folders of the previous batch's renames.
bool DurableBatch::syncBatch(
    QThreadPool &syncPool, const QString &root, const QStringList &files, const QStringList &dirs)
{
    constexpr qsizetype kChunk = 256; // descriptors open at once
    std::atomic_bool ok = true;
    struct Pending
    {
        int fd;
        int (*call)(int);
    };
    std::vector<Pending> pending;
    pending.reserve(size_t(qMin(files.size() + dirs.size(), kChunk)));
    const auto syncAll = [&ok, &pending, &syncPool] {
        QtConcurrent::blockingMap(&syncPool, pending, [&ok](const Pending &p) {
            if (p.call(p.fd) != 0)
                ok = false;
            ::close(p.fd);
        });
        pending.clear();
    };
    // The root and the temp folder resolved once for the batch, not once a file.
    const localfs::Dir rootDir = localfs::openDir(root, QString());
    const localfs::Dir tmp = localfs::openDir(rootDir, Journal::tempDirRelative());
    for (const QString &file : files) {
        const int fd = localfs::Location::inOpen(tmp, file).open(O_RDONLY).release();
        if (fd < 0) {
            ok = false;
            continue;
        }
        localfs::startWriteBack(fd, 0, 0);
        pending.push_back({ fd, ::fdatasync });
        if (qsizetype(pending.size()) >= kChunk)
            syncAll();
    }
    for (const QString &dir : dirs) {
        const int fd = localfs::openDir(rootDir, dir, true).release();
        if (fd < 0) {
            ok = false;
            continue;
        }
        pending.push_back({ fd, ::fsync });
        if (qsizetype(pending.size()) >= kChunk)
            syncAll();
    }
    syncAll();
    return ok;
}

} // namespace filesync
