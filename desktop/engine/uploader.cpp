#include "uploader.h"

#include "enginelogging.h"
#include "localfs.h"
#include "serverconnection.h"

#include <algorithm>
#include <unistd.h>

namespace filesync {

using namespace protocol;

Uploader::Uploader(const QString &root, ServerConnection &connection, QObject *parent)
    : QObject(parent)
    , m_root(root)
    , m_connection(connection)
{ }

Uploader::~Uploader()
{
    closeReadFile();
}

void Uploader::abort()
{
    ++m_generation;
    m_running = false;
    closeReadFile();
}

void Uploader::closeReadFile()
{
    if (m_readFd >= 0)
        ::close(m_readFd);
    m_readFd = m_readOp = -1;
}

Uploader::Op Uploader::Op::from(SyncAction &&a)
{
    Op op;
    op.type = a.type;
    op.kind = a.kind;
    op.path = std::move(a.path);
    op.base = a.base;
    if (a.local) {
        LocalEntry &l = *a.local;
        op.hasLocal = true;
        op.localKind = l.kind;
        op.mode = l.mode;
        op.size = l.size;
        op.mtimeNs = l.mtimeNs;
        op.inode = l.inode;
        op.ctimeNs = l.ctimeNs;
        op.readAfterCtime = l.readAfterCtime;
        op.blocks = std::move(l.blocks);
        op.blockChecks = std::move(l.blockChecks);
    }
    return op;
}

LocalEntry Uploader::Op::local() const
{
    LocalEntry l;
    l.kind = localKind;
    l.mode = mode;
    l.size = size;
    l.mtimeNs = mtimeNs;
    l.inode = inode;
    l.blocks = blocks;
    l.ctimeNs = ctimeNs;
    l.readAfterCtime = readAfterCtime;
    l.blockChecks = blockChecks;
    return l;
}

SyncAction Uploader::actionFor(int i) const
{
    const Op &op = m_ops.at(size_t(i));
    SyncAction a;
    a.type = op.type;
    a.kind = op.kind;
    a.path = op.path;
    a.from = m_moveSources.value(i);
    a.base = op.base;
    if (op.hasLocal)
        a.local = op.local();
    return a;
}

void Uploader::run(const QList<SyncAction> &actions, const JournalState &journal)
{
    std::vector<Op> ops;
    ops.reserve(size_t(actions.size()));
    QHash<int, RelativePath> moveSources;
    for (SyncAction a : actions) {
        if (a.type == ActionType::MoveRemote)
            moveSources.insert(int(ops.size()), a.from);
        ops.push_back(Op::from(std::move(a)));
    }
    run(std::move(ops), std::move(moveSources), journal);
}

void Uploader::run(std::vector<Op> ops, QHash<int, RelativePath> moveSources, const JournalState &journal)
{
    abort();
    m_running = true;
    m_complete = true;
    m_ops = std::move(ops);
    m_moveSources = std::move(moveSources);
    m_commitAt = 0;
    m_inFlight = 0;
    m_putsPending = 0;
    m_committing = false;
    m_readyEnd = 0;
    m_unresolved.assign(m_ops.size(), 0);
    m_broken.clear();
    m_deltas.clear();
    m_advance.reset();
    m_answeredHead = 0;
    m_advanceBroken = false;
    m_trustedReads = 0;
    m_hashedReads = 0;
    m_peakPuts = 0;
    planBlocks(journal);
    announceBigFiles();
    queryNext();
}

// The other computers learn of each big new file's block list before its
// blocks go, so that they fetch them as they arrive instead of after the commit. Sent
// ahead of this run's first query, so the server relays it before any of the blocks.
void Uploader::announceBigFiles()
{
    int sent = 0;
    for (int i = 0; i < int(m_ops.size()) && sent < kMaxAnnounces; ++i) {
        const Op &op = m_ops.at(size_t(i));
        // Not an edit sent as a delta: its new blocks are few, and announcing the whole
        // list would cost more on this link than the change itself.
        if (op.type != ActionType::Upload || !op.hasLocal || op.kind != EntryKind::File || op.size < kAnnounceMinBytes
            || op.blocks.isEmpty() || m_deltas.contains(i))
            continue;
        ++sent;
        m_connection.announce(Announce { op.path, op.size, op.blocks, {} }, [path = op.path](const Reply<Done> &r) {
            if (!r && r.code != QLatin1String(ServerConnection::kDisconnected))
                qCInfo(lcUpload) << "announce of" << path.toString() << "refused:" << r.message;
        });
    }
}

// Fills m_blocks, m_waiterOps, m_unresolved and m_toQuery: every distinct block of the
// ops (but those of a delta's base), once, with its first use as the place to read it.
void Uploader::planBlocks(const JournalState &journal)
{
    m_blocks.clear();
    m_waiterOps.clear();
    m_toQuery.clear();
    m_toSend.clear();
    m_queryAt = 0;
    m_sendAt = 0;
    // First one entry per use (op, block), then sorted by hash and folded in place.
    size_t uses = 0;
    for (const Op &a : m_ops)
        uses += a.type == ActionType::Upload && a.hasLocal ? size_t(a.blocks.size()) : 0;
    std::vector<Block> all;
    all.reserve(uses);
    for (int i = 0; i < int(m_ops.size()); ++i) {
        const Op &a = m_ops.at(size_t(i));
        if (a.type != ActionType::Upload || !a.hasLocal)
            continue;
        QSet<ContentHash> inBase;
        const auto base = journal.constFind(a.path);
        if (a.kind == EntryKind::File && a.base != 0 && !a.blocks.isEmpty() && base != journal.cend() && !base->isDir()
            && base->version == a.base && !base->blocks.isEmpty() && !m_noDelta.contains(a.path)) {
            BlockListDelta delta = BlockListDelta::between(base->blocks, a.blocks);
            if (delta.keptBlocks() > 0) {
                for (const BlockRef &b : base->blocks)
                    inBase.insert(b.hash);
                m_deltas.insert(i, std::move(delta));
            }
        }
        qint64 offset = 0;
        for (const BlockRef &b : a.blocks) {
            // The base's blocks are referenced by the account already: nothing to ask.
            if (!inBase.contains(b.hash))
                all.push_back(Block { b.hash, BlockState::Pending, i, b.size, 0, offset });
            offset += b.size;
        }
    }
    // By hash, then by use: the first of each run is where the block is read from.
    std::sort(all.begin(), all.end(), [](const Block &x, const Block &y) {
        if (x.hash != y.hash)
            return x.hash < y.hash;
        return x.op != y.op ? x.op < y.op : x.offset < y.offset;
    });
    m_waiterOps.reserve(all.size());
    size_t kept = 0;
    for (size_t at = 0; at < all.size();) {
        Block block = all[at];
        block.waitersBegin = int(m_waiterOps.size());
        for (; at < all.size() && all[at].hash == block.hash; ++at) {
            const int op = all[at].op;
            if (m_waiterOps.size() == size_t(block.waitersBegin) || m_waiterOps.back() != op) {
                m_waiterOps.push_back(op); // a block twice in one file counts once
                ++m_unresolved[size_t(op)];
            }
        }
        all[kept++] = block;
    }
    all.resize(kept);
    if (all.capacity() > kept + kept / 4)
        all.shrink_to_fit(); // many repeated blocks: do not keep room for every use
    m_blocks = std::move(all);
    // Asked (and so sent and committed) in the order of the ops, as before: early ops
    // become ready first and the early commits can go.
    m_toQuery.resize(m_blocks.size());
    for (size_t b = 0; b < m_blocks.size(); ++b)
        m_toQuery[b] = int(b);
    std::sort(m_toQuery.begin(), m_toQuery.end(), [this](int x, int y) {
        const Block &bx = m_blocks[size_t(x)];
        const Block &by = m_blocks[size_t(y)];
        return bx.op != by.op ? bx.op < by.op : bx.offset < by.offset;
    });
}

int Uploader::findBlock(const ContentHash &hash) const
{
    const auto it = std::lower_bound(
        m_blocks.cbegin(), m_blocks.cend(), hash, [](const Block &b, const ContentHash &h) { return b.hash < h; });
    return it != m_blocks.cend() && it->hash == hash ? int(it - m_blocks.cbegin()) : -1;
}

void Uploader::fail(const QString &reason)
{
    qCInfo(lcUpload) << "upload stopped:" << reason;
    ++m_generation; // the replies still under way belong to this failed run
    m_running = false;
    closeReadFile();
    Q_EMIT finished(false);
}

void Uploader::queryNext()
{
    if (m_queryAt == m_toQuery.size()) {
        m_toQuery = {};
        m_queryAt = 0;
        return maybeCommit(); // the ops without blocks, or all of them already there
    }
    const size_t count = qMin(m_toQuery.size() - m_queryAt, size_t(kMaxHashesPerQuery));
    QList<ContentHash> hashes;
    hashes.reserve(qsizetype(count));
    for (size_t k = m_queryAt; k < m_queryAt + count; ++k) {
        Block &b = m_blocks[size_t(m_toQuery[k])];
        b.state = BlockState::Asked;
        hashes.append(b.hash);
    }
    const size_t first = m_queryAt;
    m_queryAt += count;
    const int generation = m_generation;
    m_connection.queryBlocks(hashes, [this, generation, first, count](const Reply<QueryBlocksReply> &reply) {
        if (generation != m_generation)
            return;
        if (!reply)
            return fail(reply.message);
        for (const ContentHash &h : reply->missing) {
            // Only what we asked about, once: a confused server cannot make us read junk.
            const int b = findBlock(h);
            if (b >= 0 && m_blocks[size_t(b)].state == BlockState::Asked) {
                m_blocks[size_t(b)].state = BlockState::Missing;
                m_toSend.push_back(b);
            }
        }
        for (size_t k = first; k < first + count; ++k) {
            if (m_blocks[size_t(m_toQuery[k])].state == BlockState::Asked)
                resolve(m_toQuery[k]);
        }
        pumpBlocks(); // the uploads start while the next query is under way
        queryNext();
    });
}

void Uploader::resolve(int block)
{
    Block &b = m_blocks[size_t(block)];
    if (b.state == BlockState::Resolved)
        return;
    b.state = BlockState::Resolved;
    const size_t end
        = size_t(block) + 1 < m_blocks.size() ? size_t(m_blocks[size_t(block) + 1].waitersBegin) : m_waiterOps.size();
    for (size_t w = size_t(b.waitersBegin); w < end; ++w)
        --m_unresolved[size_t(m_waiterOps[w])];
}

} // namespace filesync
