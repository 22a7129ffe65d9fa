#include "prefetcher.h"

#include "enginelogging.h"
#include "journal.h"
#include "localfs.h"
#include "serverconnection.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QPointer>
#include <QSet>
#include <QUuid>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

Prefetcher::Prefetcher(
    const QString &root, Journal &journal, ServerConnection &connection, EnginePools &pools, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_tmpDir(Journal::tempDir(root))
    , m_journal(journal)
    , m_connection(connection)
    , m_pools(pools)
{
    connect(&m_connection, &ServerConnection::announced, this, &Prefetcher::onAnnounced);
    m_clock.start();
    m_expiry.setInterval(1000);
    connect(&m_expiry, &QTimer::timeout, this, &Prefetcher::expire);
}

Prefetcher::~Prefetcher()
{
    while (!m_files.empty())
        discard(m_files.front()->id);
}

Prefetcher::File *Prefetcher::find(quint64 id) const
{
    for (const auto &f : m_files) {
        if (f->id == id)
            return f.get();
    }
    return nullptr;
}

void Prefetcher::onAnnounced(const Announce &announce)
{
    // A newer announce of the same path makes the older one useless.
    for (const auto &f : m_files) {
        if (f->path == announce.path) {
            discard(f->id);
            break;
        }
    }
    if (announce.size < kMinBytes || int(m_files.size()) >= kMaxFiles || !m_journal.isOpen())
        return;
    if (!localfs::openDir(m_root, Journal::tempDirRelative()))
        return; // the metadata dir is never re-created here: without it the folder is stopping
    auto file = std::make_unique<File>();
    File &f = *file;
    f.id = ++m_nextId;
    f.path = announce.path;
    f.blocks = announce.blocks;
    f.written = QList<bool>(announce.blocks.size(), false);
    f.offsets.reserve(announce.blocks.size());
    // Blocks this computer already has in some file the journal knows: the Downloader
    // copies them locally (a copy of a local file, a new version of one) and they must
    // not be fetched. One pass over the journal per announce (a big file, rarely).
    QSet<ContentHash> local;
    {
        QSet<ContentHash> announced;
        for (const BlockRef &b : announce.blocks)
            announced.insert(b.hash);
        const JournalState state = m_journal.load();
        for (const JournalEntry &entry : state) {
            for (const BlockRef &b : entry.blocks) {
                if (announced.contains(b.hash))
                    local.insert(b.hash);
            }
        }
    }
    qint64 offset = 0;
    for (int i = 0; i < int(announce.blocks.size()); ++i) {
        const BlockRef &b = announce.blocks.at(i);
        f.offsets.append(offset);
        offset += b.size;
        auto &indexes = f.indexes[b.hash];
        if (indexes.isEmpty() && !local.contains(b.hash))
            f.toFetch.append(i);
        indexes.append(i);
    }
    if (f.toFetch.isEmpty())
        return;
    f.tempPath = m_tmpDir + u'/' + QUuid::createUuid().toString(QUuid::WithoutBraces);
    f.fd = Journal::tempFile(m_root, f.tempPath).open(O_RDWR | O_CREAT | O_EXCL, 0600).release();
    if (f.fd < 0) {
        qCInfo(lcPrefetch) << "cannot prefetch" << announce.path.toString() << ":" << strerror(errno);
        return;
    }
    f.lastActivity = m_clock.elapsed();
    qCDebug(lcPrefetch) << "prefetching" << announce.path.toString() << "announced by" << announce.origin << ":"
                        << f.toFetch.size() << "blocks";
    m_files.push_back(std::move(file));
    if (!m_expiry.isActive())
        m_expiry.start();
    pump();
}

void Prefetcher::pump()
{
    // In announce order: the first file is the one whose commit comes first.
    for (const auto &owned : m_files) {
        File &f = *owned;
        while (!f.settling && f.next < f.toFetch.size() && m_inFlight < kWindowBytes) {
            const BlockRef block = f.blocks.at(f.toFetch.at(f.next++));
            m_inFlight += block.size;
            const quint64 id = f.id;
            const quint64 request = ++m_nextRequest;
            m_requests.insert(request, { id, block.size });
            QPointer<Prefetcher> self(this);
            m_connection.getBlock(
                block.hash,
                [self, id, request, block](const Reply<BlockPayload> &payload) {
                    if (!self || !self->m_requests.contains(request))
                        return; // its file was taken or dropped: already out of the window
                    if (payload && payload->hash == block.hash && payload->rawSize == block.size)
                        return self->writeBlock(id, request, block, *payload);
                    // A failure (not-yet, disconnected) leaves the block to the Downloader.
                    self->m_requests.remove(request);
                    self->m_inFlight -= block.size;
                    self->checkSettled(id);
                    self->pump();
                },
                true);
        }
        if (m_inFlight >= kWindowBytes)
            return;
    }
}

// Verified and written on the pool (BlockWriter); the request stays in the window until
// then, so the blocks waiting for the pool are bounded by it too.
void Prefetcher::writeBlock(quint64 fileId, quint64 request, const BlockRef &block, const BlockPayload &payload)
{
    File *f = find(fileId);
    if (!f)
        return;
    const QList<int> indexes = f->indexes.value(block.hash);
    QList<BlockWriter::Target> targets;
    for (const int i : indexes)
        targets.append({ f->fd, f->offsets.at(i) });
    m_writer.write(
        payload, targets, false,
        [this, fileId, request, indexes, bytes = block.size](const BlockWriter::Outcome &outcome) {
            if (!m_requests.remove(request))
                return; // taken or dropped meanwhile: its bytes went nowhere the Downloader relies on
            m_inFlight -= bytes;
            onWritten(fileId, indexes, outcome);
            checkSettled(fileId);
            pump();
        },
        f->gate);
}

void Prefetcher::onWritten(quint64 fileId, const QList<int> &indexes, const BlockWriter::Outcome &outcome)
{
    File *f = find(fileId);
    if (!f || !outcome.verified())
        return;
    for (qsizetype k = 0; k < indexes.size(); ++k) {
        if (const int error = outcome.writeErrors.at(k)) {
            qCInfo(lcPrefetch) << "prefetch of" << f->path.toString() << "dropped:" << strerror(error);
            return discard(fileId);
        }
        f->written[indexes.at(k)] = true;
        if ((f->unflushed += outcome.size) >= localfs::kWriteBackBytes) {
            f->unflushed = 0;
            localfs::startWriteBackOnPool(m_pools, f->fd); // so the sync before the rename finds little left
        }
    }
    ++m_fetched;
    f->lastActivity = m_clock.elapsed();
    Q_EMIT blockWritten();
}

std::optional<Prefetcher::Taken> Prefetcher::take(const RelativePath &path, const QList<BlockRef> &blocks)
{
    const auto prefetched = [&path](const std::unique_ptr<File> &f) { return f->path == path; };
    if (std::none_of(m_files.cbegin(), m_files.cend(), prefetched))
        return std::nullopt;
    // Blocks still being written count too: their writes are finished and recorded first
    // (the Downloader would fetch them again otherwise). A write may fail and drop the file.
    m_writer.flush();
    for (auto it = m_files.begin(); it != m_files.end(); ++it) {
        File &f = **it;
        if (f.path != path)
            continue;
        if (f.blocks != blocks) {
            discard(f.id); // the committed version is another one
            return std::nullopt;
        }
        // No write of ours reaches the file once the Downloader has it: one landing after
        // its futimens() or rename would change the installed file's time.
        f.gate->close();
        Taken taken { f.tempPath, f.written, 0 };
        for (int i = 0; i < int(f.blocks.size()); ++i)
            taken.writtenBytes += f.written.at(i) ? f.blocks.at(i).size : 0;
        ::close(f.fd);
        forgetRequests(f.id); // replies still on their way find nothing to write into
        m_files.erase(it);
        pump();
        return taken;
    }
    return std::nullopt;
}

bool Prefetcher::settle(const RelativePath &path, const QList<BlockRef> &blocks)
{
    for (const auto &owned : m_files) {
        File &f = *owned;
        if (f.path != path || f.blocks != blocks)
            continue;
        f.settling = true;
        return hasRequests(f.id);
    }
    return false;
}

bool Prefetcher::hasRequests(quint64 fileId) const
{
    return std::any_of(m_requests.cbegin(), m_requests.cend(), [fileId](const Request &r) { return r.file == fileId; });
}

// Queued: the Downloader's answer is a take(), which must not run inside our callbacks.
void Prefetcher::checkSettled(quint64 fileId)
{
    const File *f = find(fileId);
    if (f && f->settling && !hasRequests(fileId))
        QMetaObject::invokeMethod(this, &Prefetcher::settled, Qt::QueuedConnection);
}

void Prefetcher::discard(quint64 id)
{
    for (auto it = m_files.begin(); it != m_files.end(); ++it) {
        if ((*it)->id != id)
            continue;
        if ((*it)->settling) // nothing left to wait for: the Downloader makes its own file
            QMetaObject::invokeMethod(this, &Prefetcher::settled, Qt::QueuedConnection);
        (*it)->gate->close();
        if ((*it)->fd >= 0)
            ::close((*it)->fd);
        Journal::tempFile(m_root, (*it)->tempPath).removeFile();
        forgetRequests(id);
        m_files.erase(it);
        break;
    }
    if (m_files.empty())
        m_expiry.stop();
}

void Prefetcher::forgetRequests(quint64 fileId)
{
    for (auto it = m_requests.begin(); it != m_requests.end();) {
        if (it->file == fileId) {
            m_inFlight -= it->bytes;
            it = m_requests.erase(it);
        } else {
            ++it;
        }
    }
}

void Prefetcher::expire()
{
    const qint64 now = m_clock.elapsed();
    QList<quint64> stale;
    for (const auto &f : m_files) {
        if (now - f->lastActivity >= m_keepMs)
            stale.append(f->id);
    }
    for (const quint64 id : std::as_const(stale)) {
        qCDebug(lcPrefetch) << "prefetch never committed, dropped";
        discard(id);
    }
    if (!stale.isEmpty())
        pump();
}

} // namespace filesync
