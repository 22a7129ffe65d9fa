// The Uploader's commits: ops batched in the plan's order under the metadata budget, one
// Commit in flight, their results reported, and the run's own advance of the head noted.
#include "uploader.h"

#include "enginelogging.h"
#include "serverconnection.h"

#include <algorithm>

namespace filesync {

using namespace protocol;

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
