#include "downloader.h"

#include "blockcodec.h"
#include "journal.h"
#include "localfs.h"
#include "scanner.h"
#include "serverconnection.h"
#include "syncengine.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QSet>
#include <QUuid>
#include <QtConcurrent>

#include <cstdio>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

struct Downloader::File
{
    SyncAction action;
    QString tempPath;
    QFile out;
    int remaining = 0; // blocks not yet written
    bool failed = false;
    bool done = false;
};

Downloader::Downloader(const QString &root, Journal &journal, ServerConnection &connection, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_journal(journal)
    , m_connection(connection)
{ }

Downloader::~Downloader()
{
    abort();
}

void Downloader::abort()
{
    ++m_generation;
    if (m_cancel)
        m_cancel->store(true);
    m_localCopy.waitForFinished(); // at most one block: it checks between blocks
    m_localPending = false;
    m_localCandidates.clear();
    for (auto &f : m_files) {
        f->out.close();
        QFile::remove(f->tempPath);
    }
    m_files.clear();
    m_waiting.clear();
    m_queue.clear();
    m_running = false;
}

void Downloader::run(const QList<SyncAction> &files, const JournalState &sources)
{
    abort();
    m_complete = true;
    m_running = true;
    m_inFlight = 0;
    m_localSources.clear();
    // Only the blocks these files need: indexing every block of a 20,000-file journal on
    // every cycle (a path string each) cost tens of milliseconds even with nothing to fetch.
    QSet<ContentHash> wanted;
    for (const SyncAction &action : files) {
        for (const BlockRef &b : action.remote.blocks)
            wanted.insert(b.hash);
    }
    for (auto it = wanted.isEmpty() ? sources.cend() : sources.cbegin(); it != sources.cend(); ++it) {
        qint64 offset = 0;
        for (const BlockRef &b : it->blocks) {
            if (wanted.contains(b.hash))
                m_localSources.insert(b.hash, { m_root + u'/' + it.key().toString(), offset });
            offset += b.size;
        }
    }
    // The metadata dir is never re-created here: without it the folder is stopping.
    const QString tmpDir = Journal::metadataDir(m_root) + QStringLiteral("/tmp");
    if (!files.isEmpty() && !QFileInfo(tmpDir).isDir())
        QDir(Journal::metadataDir(m_root)).mkdir(QStringLiteral("tmp"));
    for (const SyncAction &action : files) {
        auto file = std::make_unique<File>();
        file->action = action;
        file->tempPath = tmpDir + u'/' + QUuid::createUuid().toString(QUuid::WithoutBraces);
        file->out.setFileName(file->tempPath);
        if (!file->out.open(QIODevice::ReadWrite | QIODevice::Truncate)) {
            Q_EMIT fileSkipped(
                action, QStringLiteral("cannot write a temporary file: %1").arg(file->out.errorString()));
            m_complete = false;
            continue;
        }
        File *f = file.get();
        m_files.push_back(std::move(file));
        qint64 offset = 0;
        for (const BlockRef &b : action.remote.blocks) {
            const bool first = !m_waiting.contains(b.hash);
            m_waiting[b.hash].append({ f, offset });
            if (first)
                m_queue.append(b);
            ++f->remaining;
            offset += b.size;
        }
    }
    // Blocks found on this computer need no network: they are copied on the pool (and
    // fetched after all if their source changed); the rest are fetched meanwhile.
    QList<BlockRef> remote;
    QList<LocalCopy> copies;
    m_localCandidates.clear();
    for (const BlockRef &b : std::as_const(m_queue)) {
        const auto source = m_localSources.constFind(b.hash);
        if (source == m_localSources.cend()) {
            remote.append(b);
            continue;
        }
        LocalCopy copy { b, source->first, source->second, {} };
        for (const auto &[file, offset] : m_waiting.value(b.hash))
            copy.targets.append({ file->tempPath, offset });
        copies.append(copy);
        m_localCandidates.append(b);
    }
    m_queue = remote;
    if (!copies.isEmpty()) {
        m_localPending = true;
        m_cancel = std::make_shared<std::atomic_bool>(false);
        const std::shared_ptr<std::atomic_bool> cancel = m_cancel;
        // One watcher per run: a late signal of an aborted run cannot reach this one.
        auto *watcher = new QFutureWatcher<QSet<ContentHash>>(this);
        const int generation = m_generation;
        connect(watcher, &QFutureWatcher<QSet<ContentHash>>::finished, this, [this, watcher, generation] {
            watcher->deleteLater();
            if (m_localPending && generation == m_generation)
                onLocalCopied(watcher->result());
        });
        m_localCopy = QtConcurrent::run([copies, cancel] { return copyLocalBlocks(copies, cancel.get()); });
        watcher->setFuture(m_localCopy);
    }
    for (auto &f : m_files) {
        if (f->remaining == 0 && !f->done && !f->failed)
            finishFile(*f);
    }
    pump();
    checkDone();
}

QSet<ContentHash> Downloader::copyLocalBlocks(const QList<LocalCopy> &copies, const std::atomic_bool *cancel)
{
    QSet<ContentHash> written;
    QHash<QString, int> targets; // open temp files, by path
    for (const LocalCopy &copy : copies) {
        if (cancel->load(std::memory_order_relaxed))
            break;
        // The source is re-read and re-hashed: it may have changed since the journal.
        QFile in(copy.source);
        if (!in.open(QIODevice::ReadOnly) || !in.seek(copy.sourceOffset))
            continue;
        const QByteArray raw = in.read(copy.block.size);
        if (raw.size() != qsizetype(copy.block.size) || ContentHash::of(raw) != copy.block.hash)
            continue;
        bool ok = true;
        for (const auto &[path, offset] : copy.targets) {
            int fd = targets.value(path, -1);
            if (fd < 0) {
                // No O_CREAT: a temp file the engine already removed (abort) stays gone.
                fd = ::open(QFile::encodeName(path).constData(), O_WRONLY | O_CLOEXEC);
                targets.insert(path, fd);
            }
            ok = ok && fd >= 0 && ::pwrite(fd, raw.constData(), size_t(raw.size()), off_t(offset)) == raw.size();
        }
        if (ok)
            written.insert(copy.block.hash);
    }
    for (const int fd : std::as_const(targets)) {
        if (fd >= 0)
            ::close(fd);
    }
    return written;
}

void Downloader::onLocalCopied(const QSet<ContentHash> &written)
{
    m_localPending = false;
    const QList<BlockRef> candidates = std::exchange(m_localCandidates, {});
    for (const BlockRef &b : candidates) {
        if (written.contains(b.hash)) {
            Q_EMIT bytesDone(b.size);
            onBlockWritten(b.hash);
        } else {
            m_queue.append(b); // its local source changed: the server has it
        }
    }
    pump();
    checkDone();
}

void Downloader::onBlockWritten(const ContentHash &hash)
{
    const auto targets = m_waiting.take(hash);
    for (const auto &[file, offset] : targets) {
        Q_UNUSED(offset);
        if (!file->failed && --file->remaining == 0)
            finishFile(*file);
    }
}

void Downloader::pump()
{
    while (!m_queue.isEmpty() && m_inFlight < kWindowBytes) {
        const BlockRef block = m_queue.takeFirst();
        m_inFlight += block.size;
        const int generation = m_generation;
        m_connection.getBlock(block.hash, [this, block, generation](const Reply<BlockPayload> &payload) {
            if (generation != m_generation)
                return;
            m_inFlight -= block.size;
            if (!payload) {
                onBlockFailed(block.hash, payload.message);
            } else if (payload->hash != block.hash || payload->rawSize != block.size) {
                onBlockFailed(block.hash, QStringLiteral("the server sent another block"));
            } else if (auto raw = decodeAndVerify(*payload); !raw) {
                onBlockFailed(block.hash, raw.errorMessage());
            } else {
                Q_EMIT bytesDone(block.size);
                onBlock(block.hash, *raw);
            }
            pump();
            checkDone();
        });
    }
}

void Downloader::onBlock(const ContentHash &hash, const QByteArray &raw)
{
    const auto targets = m_waiting.take(hash);
    for (const auto &[file, offset] : targets) {
        if (file->failed)
            continue;
        writeBlock(*file, offset, raw);
        if (--file->remaining == 0 && !file->failed)
            finishFile(*file);
    }
}

void Downloader::onBlockFailed(const ContentHash &hash, const QString &reason)
{
    const auto targets = m_waiting.take(hash);
    for (const auto &[file, offset] : targets) {
        Q_UNUSED(offset);
        if (!file->failed)
            failFile(*file, reason);
    }
}

void Downloader::writeBlock(File &file, qint64 offset, const QByteArray &raw)
{
    if (!file.out.seek(offset) || file.out.write(raw) != raw.size())
        failFile(file, QStringLiteral("cannot write: %1").arg(file.out.errorString()));
}

void Downloader::failFile(File &file, const QString &reason)
{
    file.failed = true;
    file.out.close();
    QFile::remove(file.tempPath);
    m_complete = false;
    Q_EMIT fileSkipped(file.action, reason);
}

void Downloader::finishFile(File &file)
{
    const SyncAction &a = file.action;
    const QString target = m_root + u'/' + a.path.toString();
    // Durable before visible: flush, fsync, then give it its time and mode.
    file.out.flush();
    ::fsync(file.out.handle());
    // Permission bits only: set-id and sticky bits from another computer are not ours.
    ::fchmod(file.out.handle(), mode_t(a.remote.mode ? (a.remote.mode & 0777) : 0644));
    const qint64 ms = a.remote.mtimeMs;
    const timespec times[2]
        = { { time_t(ms / 1000), long((ms % 1000) * 1000000) }, { time_t(ms / 1000), long((ms % 1000) * 1000000) } };
    ::futimens(file.out.handle(), times);
    file.out.close();

    // The path must still hold what the plan saw (nothing, or the unchanged old entry):
    // anything else is the user's new work, which we never overwrite.
    const auto now = Scanner::stat(target);
    bool unchanged = !now.has_value();
    if (a.local && now && now->kind == a.local->kind)
        unchanged = a.local->isDir()
            || (now->size == a.local->size && now->mtimeNs == a.local->mtimeNs && now->inode == a.local->inode);
    if (!unchanged)
        return skipFile(file, QStringLiteral("changed on this computer meanwhile"));
    if (!localfs::makeDirs(m_root, a.path.parent()))
        return skipFile(file, QStringLiteral("cannot create its folder"));
    const QByteArray from = QFile::encodeName(file.tempPath), to = QFile::encodeName(target);
    // A file replaces a folder (changed into a file elsewhere) only once the folder is
    // empty: its unchanged content was deleted first, anything new in it stays.
    if (now && now->isDir() && ::rmdir(to.constData()) != 0)
        return skipFile(file, QStringLiteral("the folder there is not empty"));
    // Over an unchanged old file: an atomic replace. Onto a free path: never over
    // something that appeared there since the check.
    const bool renamed = now && !now->isDir() ? ::rename(from.constData(), to.constData()) == 0
                                              : localfs::renameNoReplace(file.tempPath, target);
    if (!renamed)
        return skipFile(
            file, QStringLiteral("cannot move into place: %1").arg(QString::fromLocal8Bit(strerror(errno))));
    localfs::syncDirectory(QFileInfo(target).absolutePath());
    const auto landed = Scanner::stat(target);
    if (landed) {
        LocalEntry l = *landed;
        l.blocks = a.remote.blocks;
        m_journal.put(a.path, journalEntryFor(l, a.remote.version));
        qint64 offset = 0;
        for (const BlockRef &b : a.remote.blocks) {
            m_localSources.insert(b.hash, { target, offset });
            offset += b.size;
        }
    }
    file.done = true;
    Q_EMIT fileDone(a);
}

void Downloader::skipFile(File &file, const QString &reason)
{
    QFile::remove(file.tempPath);
    file.failed = true;
    m_complete = false;
    Q_EMIT fileSkipped(file.action, reason);
}

void Downloader::checkDone()
{
    if (!m_running || m_localPending)
        return;
    for (const auto &f : m_files) {
        if (!f->done && !f->failed)
            return;
    }
    m_running = false;
    m_files.clear();
    Q_EMIT finished(m_complete);
}

} // namespace filesync
