#include "uploader.h"

#include "blockcodec.h"
#include "serverconnection.h"
#include "syncengine.h"

#include <QFile>

namespace filesync {

using namespace protocol;

Uploader::Uploader(const QString &root, ServerConnection &connection, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_connection(connection)
{
}

void Uploader::abort()
{
    ++m_generation;
    m_running = false;
}

void Uploader::run(const QList<SyncAction> &ops)
{
    abort();
    m_running = true;
    m_complete = true;
    m_ops = ops;
    m_commitAt = 0;
    m_inFlight = 0;
    m_putsPending = 0;
    m_broken.clear();
    m_where.clear();
    m_toQuery.clear();
    m_toSend.clear();
    for (int i = 0; i < m_ops.size(); ++i) {
        const SyncAction &a = m_ops.at(i);
        if (a.type != ActionType::Upload || !a.local)
            continue;
        qint64 offset = 0;
        for (const BlockRef &b : a.local->blocks) {
            if (!m_where.contains(b.hash)) {
                m_where.insert(b.hash, { i, offset });
                m_toQuery.append(b.hash);
            }
            offset += b.size;
        }
    }
    queryNext();
}

void Uploader::fail(const QString &reason)
{
    qCInfo(lcEngine) << "upload stopped:" << reason;
    m_running = false;
    Q_EMIT finished(false);
}

void Uploader::queryNext()
{
    if (m_toQuery.isEmpty())
        return pumpBlocks();
    QueryBlocks query;
    query.hashes = m_toQuery.mid(0, kMaxHashesPerQuery);
    m_toQuery.remove(0, query.hashes.size());
    const int generation = m_generation;
    m_connection.request(MessageType::QueryBlocks, query, [this, generation](const Envelope &reply) {
        if (generation != m_generation)
            return;
        auto missing = QueryBlocksReply::fromCbor(reply.body);
        if (reply.type != MessageType::QueryBlocksReply || !missing)
            return fail(ServerConnection::errorText(reply));
        m_toSend += missing->missing;
        queryNext();
    });
}

bool Uploader::readBlock(const ContentHash &hash, QByteArray &out)
{
    const auto [index, offset] = m_where.value(hash);
    const SyncAction &a = m_ops.at(index);
    QFile in(m_root + u'/' + a.path.toString());
    qint64 size = 0;
    for (const BlockRef &b : a.local->blocks) {
        if (b.hash == hash) {
            size = b.size;
            break;
        }
    }
    if (!in.open(QIODevice::ReadOnly) || !in.seek(offset))
        return false;
    out = in.read(size);
    return out.size() == size && ContentHash::of(out) == hash;
}

void Uploader::pumpBlocks()
{
    while (!m_toSend.isEmpty() && m_inFlight < kWindowBytes) {
        const ContentHash hash = m_toSend.takeFirst();
        QByteArray raw;
        if (!readBlock(hash, raw)) {
            // Changed since the scan: that file waits for the next cycle, the rest goes on.
            m_broken.insert(m_where.value(hash).first);
            m_complete = false;
            continue;
        }
        const EncodedBlock encoded = encodeBlock(raw);
        m_inFlight += raw.size();
        ++m_putsPending;
        const qint64 size = raw.size();
        const int generation = m_generation;
        m_connection.request(MessageType::PutBlock, BlockPayload { hash, encoded.codec, quint32(size), encoded.data },
                             [this, generation, size](const Envelope &reply) {
                                 if (generation != m_generation)
                                     return;
                                 m_inFlight -= size;
                                 --m_putsPending;
                                 if (reply.type != MessageType::Ok)
                                     return fail(ServerConnection::errorText(reply));
                                 Q_EMIT bytesDone(size);
                                 pumpBlocks();
                             });
    }
    if (m_toSend.isEmpty() && m_putsPending == 0 && m_running)
        commitNext();
}

void Uploader::commitNext()
{
    Commit commit;
    QList<int> indexes;
    qint64 bytes = 0;
    while (m_commitAt < m_ops.size() && commit.ops.size() < kMaxOpsPerCommit) {
        const int i = m_commitAt;
        const SyncAction &a = m_ops.at(i);
        if (m_broken.contains(i)) {
            ++m_commitAt;
            continue;
        }
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
            op.blocks = a.local->blocks;
        }
        const qint64 opBytes = 200 + a.path.toString().size() * 3 + op.blocks.size() * 40;
        if (!commit.ops.isEmpty() && bytes + opBytes > kMetadataBudget)
            break;
        bytes += opBytes;
        commit.ops.append(op);
        indexes.append(i);
        ++m_commitAt;
    }
    if (commit.ops.isEmpty()) {
        m_running = false;
        Q_EMIT finished(m_complete);
        return;
    }
    const int generation = m_generation;
    m_connection.request(MessageType::Commit, commit, [this, generation, indexes](const Envelope &reply) {
        if (generation != m_generation)
            return;
        auto result = CommitReply::fromCbor(reply.body);
        if (reply.type != MessageType::CommitReply || !result || result->results.size() != indexes.size())
            return fail(ServerConnection::errorText(reply));
        for (int k = 0; k < indexes.size(); ++k) {
            const SyncAction &a = m_ops.at(indexes.at(k));
            const CommitResult &r = result->results.at(k);
            switch (r.status) {
            case CommitStatus::Applied: Q_EMIT opApplied(a, r.version); break;
            case CommitStatus::Conflict:
                m_complete = false;
                Q_EMIT opConflict(a);
                break;
            case CommitStatus::Rejected:
                m_complete = false;
                Q_EMIT opRejected(a, r.reason);
                break;
            }
        }
        commitNext();
    });
}

} // namespace filesync
