#include "uploader.h"

#include "blockcodec.h"
#include "serverconnection.h"
#include "syncengine.h"

#include <QFile>

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

Uploader::Uploader(const QString &root, ServerConnection &connection, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_connection(connection)
{ }

void Uploader::abort()
{
    ++m_generation;
    m_running = false;
}

void Uploader::run(const QList<SyncAction> &ops, const JournalState &journal)
{
    abort();
    m_running = true;
    m_complete = true;
    m_ops = ops;
    m_commitAt = 0;
    m_inFlight = 0;
    m_putsPending = 0;
    m_committing = false;
    m_readyEnd = 0;
    m_waiters.clear();
    m_unresolved = QList<int>(m_ops.size(), 0);
    m_broken.clear();
    m_deltas.clear();
    m_advance.reset();
    m_advanceBroken = false;
    m_where.clear();
    m_toQuery.clear();
    m_toSend.clear();
    m_trustedReads = 0;
    m_hashedReads = 0;
    m_peakPuts = 0;
    const bool deltas = m_connection.serverMinor() >= kMinorBlockDelta;
    for (int i = 0; i < m_ops.size(); ++i) {
        const SyncAction &a = m_ops.at(i);
        if (a.type != ActionType::Upload || !a.local)
            continue;
        QSet<ContentHash> inBase;
        const auto base = journal.constFind(a.path);
        if (deltas && a.kind == EntryKind::File && a.base != 0 && !a.local->blocks.isEmpty() && base != journal.cend()
            && !base->isDir() && base->version == a.base && !base->blocks.isEmpty() && !m_noDelta.contains(a.path)) {
            BlockListDelta delta = BlockListDelta::between(base->blocks, a.local->blocks);
            if (delta.keptBlocks() > 0) {
                for (const BlockRef &b : base->blocks)
                    inBase.insert(b.hash);
                m_deltas.insert(i, std::move(delta));
            }
        }
        qint64 offset = 0;
        for (const BlockRef &b : a.local->blocks) {
            // The base's blocks are referenced by the account already: nothing to ask.
            if (!inBase.contains(b.hash)) {
                if (!m_where.contains(b.hash)) {
                    m_where.insert(b.hash, Source { i, offset, b.size });
                    m_toQuery.append(b.hash);
                }
                QList<int> &waiters = m_waiters[b.hash];
                if (waiters.isEmpty() || waiters.last() != i) { // a block twice in one file counts once
                    waiters.append(i);
                    ++m_unresolved[i];
                }
            }
            offset += b.size;
        }
    }
    queryNext();
}

void Uploader::fail(const QString &reason)
{
    qCInfo(lcEngine) << "upload stopped:" << reason;
    ++m_generation; // the replies still under way belong to this failed run
    m_running = false;
    Q_EMIT finished(false);
}

void Uploader::queryNext()
{
    if (m_toQuery.isEmpty())
        return maybeCommit(); // the ops without blocks, or all of them already there
    const QList<ContentHash> hashes = m_toQuery.mid(0, kMaxHashesPerQuery);
    m_toQuery.remove(0, hashes.size());
    const int generation = m_generation;
    m_connection.queryBlocks(hashes, [this, generation, hashes](const Reply<QueryBlocksReply> &reply) {
        if (generation != m_generation)
            return;
        if (!reply)
            return fail(reply.message);
        QSet<ContentHash> missing;
        for (const ContentHash &h : reply->missing) {
            // Only what we asked about, once: a confused server cannot make us read junk.
            if (m_waiters.contains(h) && !missing.contains(h)) {
                missing.insert(h);
                m_toSend.append(h);
            }
        }
        for (const ContentHash &h : hashes) {
            if (!missing.contains(h))
                resolve(h);
        }
        pumpBlocks(); // the uploads start while the next query is under way
        queryNext();
    });
}

void Uploader::resolve(const ContentHash &hash)
{
    const QList<int> waiters = m_waiters.take(hash);
    for (const int op : waiters)
        --m_unresolved[op];
}

namespace {
qint64 nanoseconds(const struct timespec &t)
{
    return qint64(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The stat the scan saw when it hashed the file (inode, size, mtime and ctime).
bool sameAsScanned(const struct stat &st, const LocalEntry &scanned)
{
    return scanned.ctimeNs != 0 && quint64(st.st_ino) == scanned.inode && qint64(st.st_size) == scanned.size
        && nanoseconds(st.st_mtim) == scanned.mtimeNs && nanoseconds(st.st_ctim) == scanned.ctimeNs;
}
} // namespace

bool Uploader::readBlock(const Source &source, const ContentHash &hash, QByteArray &out)
{
    const SyncAction &action = m_ops.at(source.op);
    const QByteArray path = QFile::encodeName(m_root + u'/' + action.path.toString());
    const int fd = ::open(path.constData(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct stat before;
    const bool statBefore = ::fstat(fd, &before) == 0 && sameAsScanned(before, *action.local);
    out = QByteArray(source.size, Qt::Uninitialized);
    qint64 done = 0;
    while (done < source.size) {
        const ssize_t n = ::pread(fd, out.data() + done, size_t(source.size - done), off_t(source.offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += n;
    }
    struct stat after;
    const bool statAfter = statBefore && ::fstat(fd, &after) == 0 && sameAsScanned(after, *action.local);
    ::close(fd);
    if (done != source.size)
        return false;
    // Every write or truncate moves ctime (and setting mtime back moves it too), and a
    // replaced file has another inode: a stat equal to the scan's before and after the
    // read means these are the bytes the scan hashed, so they are not hashed again (the
    // server verifies every block anyway: a block that lies is refused, never stored).
    if (statAfter) {
        ++m_trustedReads;
        return true;
    }
    ++m_hashedReads;
    return ContentHash::of(out) == hash;
}

void Uploader::pumpBlocks()
{
    while (!m_toSend.isEmpty() && m_inFlight < kWindowBytes && m_putsPending < kMaxPutsInFlight) {
        const ContentHash hash = m_toSend.takeFirst();
        QByteArray raw;
        const Source source = m_where.value(hash);
        if (!readBlock(source, hash, raw)) {
            // Changed since the scan: that file waits for the next cycle, the rest goes on
            // (another file with the same block is refused by the server and retried).
            m_broken.insert(source.op);
            m_complete = false;
            resolve(hash);
            continue;
        }
        const EncodedBlock encoded = encodeBlock(raw);
        m_inFlight += raw.size();
        ++m_putsPending;
        m_peakPuts = qMax(m_peakPuts, m_putsPending);
        const qint64 size = raw.size();
        const int generation = m_generation;
        m_connection.putBlock(BlockPayload { hash, encoded.codec, quint32(size), encoded.data },
            [this, generation, size, hash](const Reply<Done> &reply) {
                if (generation != m_generation)
                    return;
                m_inFlight -= size;
                --m_putsPending;
                if (!reply)
                    return fail(reply.message);
                Q_EMIT bytesDone(size);
                resolve(hash);
                pumpBlocks();
            });
    }
    maybeCommit();
}

std::optional<Uploader::OwnAdvance> Uploader::ownAdvance() const
{
    if (m_advanceBroken)
        return std::nullopt;
    return m_advance;
}

void Uploader::noteAdvance(const CommitReply &reply)
{
    if (m_advanceBroken)
        return;
    if (!reply.prev || (m_advance && *reply.prev != m_advance->to)) {
        m_advanceBroken = true;
        return;
    }
    // Versions prev+1 .. head are this commit's rows; each must be the result of one of
    // our ops (and so journaled by opApplied), or a row we never learnt of is in there.
    QSet<quint64> ours;
    for (const CommitResult &r : reply.results) {
        if (r.status == CommitStatus::Applied && r.version > *reply.prev)
            ours.insert(r.version);
    }
    if (quint64(ours.size()) != reply.head - *reply.prev) {
        m_advanceBroken = true;
        return;
    }
    if (!m_advance)
        m_advance = OwnAdvance { *reply.prev, reply.head };
    else
        m_advance->to = reply.head;
}

CommitOp Uploader::commitOpFor(int i) const
{
    const SyncAction &a = m_ops.at(i);
    CommitOp op;
    op.path = a.path;
    op.kind = a.kind;
    op.baseVersion = a.base;
    if (a.type == ActionType::MoveRemote) {
        op.op = CommitOpKind::Move;
        op.from = a.from;
    } else if (a.type == ActionType::DeleteRemote) {
        op.op = CommitOpKind::Delete;
    } else {
        op.op = CommitOpKind::Put;
        op.size = a.local->size;
        op.mtimeMs = a.local->mtimeNs / 1'000'000;
        op.mode = a.local->mode;
        if (const auto delta = m_deltas.constFind(i); delta != m_deltas.cend())
            op.delta = *delta;
        else
            op.blocks = a.local->blocks;
    }
    return op;
}

void Uploader::maybeCommit()
{
    if (!m_running || m_committing)
        return;
    while (m_readyEnd < m_ops.size() && (m_unresolved.at(m_readyEnd) == 0 || m_broken.contains(m_readyEnd)))
        ++m_readyEnd;
    // The last batch waits for the uploads still under way (those of a broken file too).
    const bool last = m_readyEnd == m_ops.size() && m_toQuery.isEmpty() && m_toSend.isEmpty() && m_putsPending == 0;
    QList<CommitOp> batch;
    QList<int> indexes;
    qint64 bytes = 0;
    bool full = false;
    int at = m_commitAt;
    while (at < m_readyEnd) {
        if (batch.size() >= kMaxOpsPerCommit) {
            full = true;
            break;
        }
        const int i = at;
        const SyncAction &a = m_ops.at(i);
        if (m_broken.contains(i)) {
            ++at;
            continue;
        }
        const CommitOp op = commitOpFor(i);
        const qint64 opBytes = 200 + a.path.toString().size() * 3 + op.blocks.size() * 40
            + (op.delta ? op.delta->items.size() * 40 + 40 : 0);
        if (!batch.isEmpty() && bytes + opBytes > kMetadataBudget) {
            full = true;
            break;
        }
        bytes += opBytes;
        batch.append(op);
        indexes.append(i);
        ++at;
    }
    if (!full && !last && batch.size() < kEarlyCommitOps)
        return; // more ops become ready as their blocks are acknowledged
    if (batch.isEmpty()) {
        if (!last)
            return;
        m_running = false;
        Q_EMIT finished(m_complete);
        return;
    }
    m_commitAt = at;
    m_committing = true;
    const int generation = m_generation;
    m_connection.commit(batch, [this, generation, indexes](const Reply<CommitReply> &result) {
        if (generation != m_generation)
            return;
        m_committing = false;
        if (!result)
            return fail(result.message);
        if (result->results.size() != indexes.size())
            return fail(
                QStringLiteral("the server answered %1 of %2 ops").arg(result->results.size()).arg(indexes.size()));
        noteAdvance(*result);
        for (int k = 0; k < indexes.size(); ++k) {
            const SyncAction &a = m_ops.at(indexes.at(k));
            const CommitResult &r = result->results.at(k);
            if (r.status == CommitStatus::Rejected && m_deltas.contains(indexes.at(k))) {
                // Our journal's idea of the base differs from the server's: the next
                // cycle sends (and first queries) the full list. Nothing was changed.
                qCInfo(lcEngine) << "the server refused a block delta for" << a.path.toString() << "-" << r.reason
                                 << "- sending the full list next";
                m_noDelta.insert(a.path);
                m_complete = false;
                continue;
            }
            switch (r.status) {
            case CommitStatus::Applied:
                m_noDelta.remove(a.path);
                Q_EMIT opApplied(a, r.version);
                break;
            case CommitStatus::Conflict:
                m_complete = false; // our view is stale: the cursor stays for a re-fetch
                Q_EMIT opConflict(a, r.currentVersion);
                break;
            case CommitStatus::Rejected:
                // Invalid whatever the timing, so no remote change hides behind it: the
                // cursor may move on; the op is retried (and reported) next cycle.
                Q_EMIT opRejected(a, r.reason);
                break;
            }
        }
        maybeCommit();
    });
}

} // namespace filesync
