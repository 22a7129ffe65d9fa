#pragma once

#include "filetable.h"

#include <QSet>

#include <functional>

namespace filesync {

// The optimistic commit rules of docs/protocol.md, one op at a time, on top of a
// FileTable: a stale base is a Conflict and changes nothing; an op that can never apply
// (a parent that is a file, a block the account has not proven) is Rejected. Every row
// it writes takes the next sequence number of the account. The caller wraps all ops of
// one Commit in a transaction and stores head() afterwards. An op that would take the
// commit past kMaxRowsPerCommit rows written is Rejected, unless it is the first: one
// Commit cannot hold the event thread (and so every other account) for long. Server event thread; a
// short-lived object owned by SqliteMetadataStore::commit().
class CommitApplier
{
public:
    // Whether the account may reference a block: it proved the bytes, and they are stored.
    using ProofCheck = std::function<Result<bool>(const ContentHash &)>;

    CommitApplier(FileTable &files, AccountKey account, const QString &origin, quint64 head, ProofCheck isProven);

    // An Error only for a storage failure (the caller rolls everything back).
    Result<protocol::CommitResult> apply(const protocol::CommitOp &op);
    quint64 head() const { return m_head; }

private:
    Result<protocol::CommitResult> put(const protocol::CommitOp &op);
    Result<protocol::CommitResult> remove(const protocol::CommitOp &op);
    Result<protocol::CommitResult> move(const protocol::CommitOp &op);
    // The version of the tombstone of `path`'s nearest parent with a row, when that parent
    // was moved away (empty otherwise).
    Result<std::optional<quint64>> movedAwayParent(const RelativePath &path);
    // Creates the missing parent directories of `path`; a reason when one is a file.
    Result<QString> ensureParents(const RelativePath &path);
    // A reason when a block is not proven by the account, else an empty string.
    Result<QString> checkBlocks(const QList<protocol::BlockRef> &blocks);
    Result<void> write(FileRow row); // stamps the next version and the origin
    quint64 lastWritten() const { return m_head; }

    // A reason when `rows` more would go past the commit's budget, else an empty string.
    QString overBudget(qint64 rows) const;

    FileTable &m_files;
    const AccountKey m_account;
    qint64 m_rowsWritten = 0;
    bool m_first = true; // the op under way is the commit's first
    const QString m_origin;
    quint64 m_head;
    ProofCheck m_isProven;
    QSet<ContentHash> m_proven; // cache for the ops of this commit
    // Folders known to be live in this commit (with all their parents): a commit of many
    // files in few folders looked each parent up once per file (half of such a commit's
    // time). Emptied by any delete or move; a put of a file drops its own path.
    QSet<RelativePath> m_liveDirectories;
};

} // namespace filesync
