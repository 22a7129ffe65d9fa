#include "uploader.h"

#include "blockcodec.h"
#include "enginelogging.h"
#include "localfs.h"
#include "serverconnection.h"

#include <QFile>

#include <algorithm>
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

namespace {
qint64 nanoseconds(const struct timespec &t)
{
    return qint64(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

// The stat the scan saw when it hashed the file (inode, size, mtime and ctime).
bool sameAsScanned(const struct stat &st, const Uploader::Op &scanned)
{
    return scanned.ctimeNs != 0 && quint64(st.st_ino) == scanned.inode && qint64(st.st_size) == scanned.size
        && nanoseconds(st.st_mtim) == scanned.mtimeNs && nanoseconds(st.st_ctim) == scanned.ctimeNs;
}
} // namespace

bool Uploader::readBlock(const Block &source, QByteArray &out, bool &provesRead, localfs::FolderCache &folders)
{
    provesRead = false;
    const Op &action = m_ops.at(size_t(source.op));
    // Kept open across the op's blocks: a file replaced meanwhile is still read as the
    // scan saw it (the inode in the stat below is the scanned one), consistent with the
    // hashes about to be committed; the next scan sees the new file.
    if (m_readOp != source.op) {
        closeReadFile();
        // Beneath the root, never through a link: a link's target is not ours to upload.
        m_readFd = folders.at(action.path).open(O_RDONLY).release();
        if (m_readFd < 0)
            return false;
        m_readOp = source.op;
    }
    const int fd = m_readFd;
    const qint64 size = source.size;
    // A read of the whole of a file the scan read racily may prove it (below); the clock
    // is read before it, as the scanner reads it before its stat.
    const bool mayProve
        = !action.readAfterCtime && action.blocks.size() == 1 && source.offset == 0 && size == action.size;
    const qint64 readStartNs = mayProve ? localfs::realtimeNs() : 0;
    out = QByteArray(size, Qt::Uninitialized);
    qint64 done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, out.data() + done, size_t(size - done), off_t(source.offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += n;
    }
    struct stat after;
    const bool statAfter = ::fstat(fd, &after) == 0 && sameAsScanned(after, action);
    if (done != size) {
        closeReadFile();
        return false;
    }
    // Every write or truncate moves ctime (and setting mtime back moves it too), and a
    // replaced file has another inode: the open file's stat equal to the scan's after the
    // read means these are the bytes the scan hashed, so they are not hashed again (the
    // server verifies every block anyway: a block that lies is refused, never stored).
    // One stat after the read is enough: ctime never goes back, so a write at any time
    // since the scan (before the open or during the read) shows in it; a stat before the
    // read too would cost a system call per file and tell nothing more.
    if (statAfter) {
        ++m_trustedReads;
        // A file the scan read within 100 ms of its last change is read again by the next
        // scan (the racy rule), unless this read proves it: it came clearly after the
        // ctime, the stat is the scan's after it (any change since the clock reading would
        // have moved the ctime), and the server checks these bytes against the scan's hash
        // before it acknowledges them. Only for a file of one block: then this read is all
        // of it. (Otherwise a fifth of a freshly written tree is read twice.)
        provesRead = mayProve && JournalEntry::readClearlyAfter(action.ctimeNs, readStartNs);
        return true;
    }
    ++m_hashedReads;
    return ContentHash::of(out) == source.hash;
}

void Uploader::pumpBlocks()
{
    // Small blocks go several to a PutBlocks, not one request and one reply per file on
    // each of three processes. A batch is sent when full and when
    // nothing more can be read now.
    Batch batch;
    localfs::FolderCache folders(m_root); // this step's reads: each folder resolved once
    while (m_sendAt < m_toSend.size() && m_inFlight < kWindowBytes && m_putsPending < kMaxPutsInFlight) {
        const int block = m_toSend[m_sendAt++];
        if (m_sendAt == m_toSend.size() && m_queryAt == m_toQuery.size()) {
            m_toSend = {}; // every block is asked about: nothing more comes in here
            m_sendAt = 0;
        }
        QByteArray raw;
        const Block &source = m_blocks[size_t(block)];
        const ContentHash &hash = source.hash;
        bool provesRead = false;
        if (!readBlock(source, raw, provesRead, folders)) {
            // Changed since the scan: that file waits for the next cycle, the rest goes on
            // (another file with the same block is refused by the server and retried).
            m_broken.insert(source.op);
            m_complete = false;
            resolve(block);
            continue;
        }
        const EncodedBlock encoded = encodeBlock(raw);
        const qint64 size = raw.size();
        m_inFlight += size;
        const Sent sent { block, source.op, size, provesRead };
        BlockPayload payload { hash, encoded.codec, quint32(size), encoded.data };
        if (size <= kBatchBlockBytes) {
            batch.bytes += payload.data.size();
            batch.payloads.blocks.append(std::move(payload));
            batch.sent.push_back(sent);
            if (batch.sent.size() >= size_t(kBatchBlocks) || batch.bytes >= kBatchBytes)
                sendBatch(std::exchange(batch, {}));
            continue;
        }
        ++m_putsPending;
        m_peakPuts = qMax(m_peakPuts, m_putsPending);
        const int generation = m_generation;
        m_connection.putBlock(payload, [this, generation, sent](const Reply<Done> &reply) {
            if (generation == m_generation)
                onPut({ sent }, reply);
        });
    }
    if (!batch.sent.empty())
        sendBatch(std::move(batch));
    maybeCommit();
}

void Uploader::sendBatch(Batch batch)
{
    ++m_putsPending;
    m_peakPuts = qMax(m_peakPuts, m_putsPending);
    ++m_batchesSent;
    const int generation = m_generation;
    m_connection.putBlocks(batch.payloads, [this, generation, sent = std::move(batch.sent)](const Reply<Done> &reply) {
        if (generation == m_generation)
            onPut(sent, reply);
    });
}

// The answer to one PutBlock or PutBlocks: all of its blocks are verified, stored and
// proven by the server, or the run fails.
void Uploader::onPut(const std::vector<Sent> &sent, const Reply<Done> &reply)
{
    qint64 bytes = 0;
    for (const Sent &s : sent)
        bytes += s.size;
    m_inFlight -= bytes;
    --m_putsPending;
    if (!reply)
        return fail(reply.message);
    for (const Sent &s : sent) {
        if (s.provesRead)
            m_ops[size_t(s.op)].readAfterCtime = true; // the server verified the bytes read
    }
    Q_EMIT bytesDone(bytes);
    for (const Sent &s : sent)
        resolve(s.block);
    pumpBlocks();
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
    if (m_advance && reply.prev != m_advance->to) {
        m_advanceBroken = true;
        return;
    }
    // Versions prev+1 .. head are this commit's rows; each must be the result of one of
    // our ops (and so journaled by opApplied), or a row we never learnt of is in there.
    QSet<quint64> ours;
    for (const CommitResult &r : reply.results) {
        if (r.status == CommitStatus::Applied && r.version > reply.prev)
            ours.insert(r.version);
    }
    if (quint64(ours.size()) != reply.head - reply.prev) {
        m_advanceBroken = true;
        return;
    }
    if (!m_advance)
        m_advance = OwnAdvance { reply.prev, reply.head };
    else
        m_advance->to = reply.head;
}

CommitOp Uploader::commitOpFor(int i) const
{
    const Op &a = m_ops.at(size_t(i));
    CommitOp op;
    op.path = a.path;
    op.kind = a.kind;
    op.baseVersion = a.base;
    if (a.type == ActionType::MoveRemote) {
        op.op = CommitOpKind::Move;
        op.from = m_moveSources.value(i);
    } else if (a.type == ActionType::DeleteRemote) {
        op.op = CommitOpKind::Delete;
    } else {
        op.op = CommitOpKind::Put;
        op.size = a.size;
        op.mtimeMs = a.mtimeNs / 1'000'000;
        op.mode = a.mode;
        if (const auto delta = m_deltas.constFind(i); delta != m_deltas.cend())
            op.delta = *delta;
        else
            op.blocks = a.blocks;
    }
    return op;
}

void Uploader::maybeCommit()
{
    if (!m_running || m_committing)
        return;
    const int opCount = int(m_ops.size());
    while (m_readyEnd < opCount && (m_unresolved.at(size_t(m_readyEnd)) == 0 || m_broken.contains(m_readyEnd)))
        ++m_readyEnd;
    // The last batch waits for the uploads still under way (those of a broken file too).
    const bool last
        = m_readyEnd == opCount && m_queryAt == m_toQuery.size() && m_sendAt == m_toSend.size() && m_putsPending == 0;
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
        const Op &a = m_ops.at(size_t(i));
        if (m_broken.contains(i)) {
            ++at;
            continue;
        }
        const CommitOp op = commitOpFor(i);
        // A folder move writes two rows for every entry under it: it goes alone, so that
        // the server's cap on rows a commit writes (which a first op may pass) never
        // refuses it.
        const bool folderMove = op.op == CommitOpKind::Move && op.kind == EntryKind::Directory;
        if (folderMove && !batch.isEmpty()) {
            full = true;
            break;
        }
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
        if (folderMove) {
            full = true;
            break;
        }
    }
    if (!full && !last && batch.size() < kEarlyCommitOps)
        return; // more ops become ready as their blocks are acknowledged
    if (batch.isEmpty()) {
        if (!last)
            return;
        m_running = false;
        closeReadFile();
        Q_EMIT finished(m_complete);
        return;
    }
    m_commitAt = at;
    m_committing = true;
    QList<SyncAction> sent;
    for (const int i : std::as_const(indexes)) {
        const Op &op = m_ops.at(size_t(i));
        if ((op.type == ActionType::Upload || op.type == ActionType::MoveRemote) && op.hasLocal)
            sent.append(actionFor(i));
    }
    if (!sent.isEmpty())
        Q_EMIT committing(sent);
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
        m_answeredHead = std::max(m_answeredHead, result->head);
        Q_EMIT resultsStarting();
        for (int k = 0; k < indexes.size(); ++k) {
            const int i = indexes.at(k);
            Op &a = m_ops[size_t(i)];
            const CommitResult &r = result->results.at(k);
            if (r.status == CommitStatus::Rejected && m_deltas.contains(i)) {
                // Our journal's idea of the base differs from the server's: the next
                // cycle sends (and first queries) the full list. Nothing was changed.
                qCInfo(lcUpload) << "the server refused a block delta for" << a.path.toString() << "-" << r.reason
                                 << "- sending the full list next";
                m_noDelta.insert(a.path);
                m_complete = false;
            } else {
                switch (r.status) {
                case CommitStatus::Applied:
                    m_noDelta.remove(a.path);
                    Q_EMIT opApplied(actionFor(i), r.version);
                    break;
                case CommitStatus::Conflict:
                    m_complete = false; // our view is stale: the cursor stays for a re-fetch
                    Q_EMIT opConflict(actionFor(i), r.currentVersion);
                    break;
                case CommitStatus::Rejected:
                    // Invalid whatever the timing, so no remote change hides behind it: the
                    // cursor may move on; the op is retried (and reported) next cycle.
                    Q_EMIT opRejected(actionFor(i), r.reason);
                    break;
                }
            }
            // Done with: its lists and strings go now (or stay only where the journal
            // shares them), not at the end of the run. Its blocks are all resolved, so
            // no read comes back to its path.
            a.path = {};
            a.blocks = {};
            a.blockChecks = {};
            m_deltas.remove(i);
            m_moveSources.remove(i);
        }
        Q_EMIT resultsDone();
        maybeCommit();
    });
}

} // namespace filesync
