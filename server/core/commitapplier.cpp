#include "commitapplier.h"

namespace filesync {

using namespace protocol;

namespace {

CommitResult conflict(quint64 current)
{
    CommitResult r;
    r.status = CommitStatus::Conflict;
    r.currentVersion = current;
    return r;
}

CommitResult rejected(const QString &reason)
{
    CommitResult r;
    r.status = CommitStatus::Rejected;
    r.reason = reason;
    return r;
}

CommitResult applied(quint64 version)
{
    CommitResult r;
    r.status = CommitStatus::Applied;
    r.version = version;
    return r;
}

// The base rule: a live entry must be at `base`; where no live entry is (never existed
// or a tombstone), `base` is 0 or the tombstone's version.
bool baseMatches(const std::optional<FileRow> &current, quint64 base)
{
    if (current && current->live())
        return current->version == base;
    return base == 0 || (current && current->version == base);
}

quint64 versionOf(const std::optional<FileRow> &row)
{
    return row ? row->version : 0;
}

} // namespace

CommitApplier::CommitApplier(
    FileTable &files, AccountKey account, const QString &origin, quint64 head, ProofCheck isProven)
    : m_files(files)
    , m_account(account)
    , m_origin(origin)
    , m_head(head)
    , m_isProven(std::move(isProven))
{ }

QString CommitApplier::overBudget(qint64 rows) const
{
    if (m_first || m_rowsWritten + rows <= kMaxRowsPerCommit)
        return QString();
    return QStringLiteral("this commit would write more than %1 rows: send this operation in a commit of its own")
        .arg(kMaxRowsPerCommit);
}

Result<CommitResult> CommitApplier::apply(const CommitOp &op)
{
    if (const QString problem = overBudget(1); !problem.isEmpty())
        return rejected(problem);
    auto result = [&]() -> Result<CommitResult> {
        switch (op.op) {
        case CommitOpKind::Put:
            // A put of a file where a folder was (an empty one) ends that folder.
            m_liveDirectories.remove(op.path);
            return put(op);
        case CommitOpKind::Delete:
            m_liveDirectories.clear(); // a folder and what is under it may go
            return remove(op);
        case CommitOpKind::Move:
            m_liveDirectories.clear();
            return move(op);
        }
        return rejected(QStringLiteral("unknown operation"));
    }();
    m_first = false;
    return result;
}

Result<void> CommitApplier::write(FileRow row)
{
    ++m_rowsWritten;
    row.version = ++m_head;
    row.origin = m_origin;
    return m_files.write(m_account, row);
}

Result<QString> CommitApplier::checkBlocks(const QList<BlockRef> &blocks)
{
    for (const BlockRef &b : blocks) {
        if (m_proven.contains(b.hash))
            continue;
        auto proven = m_isProven(b.hash);
        if (!proven)
            return proven.error();
        if (!*proven)
            return QStringLiteral("missing block %1: upload it first").arg(b.hash.toString());
        m_proven.insert(b.hash);
    }
    return QString();
}

Result<QString> CommitApplier::ensureParents(const RelativePath &path)
{
    QList<RelativePath> missing;
    for (RelativePath p = path.parent(); !p.isRoot(); p = p.parent()) {
        if (m_liveDirectories.contains(p))
            break; // and so are its parents
        auto found = m_files.find(m_account, p);
        if (!found)
            return found.error();
        if (*found && (*found)->live()) {
            if (!(*found)->isDirectory())
                return QStringLiteral("%1 is a file, so %2 cannot be inside it").arg(p.toString(), path.toString());
            m_liveDirectories.insert(p);
            break;
        }
        missing.prepend(p);
    }
    for (const RelativePath &p : std::as_const(missing)) {
        FileRow dir;
        dir.path = p;
        dir.kind = EntryKind::Directory;
        dir.mode = 0755;
        if (auto w = write(dir); !w)
            return w.error();
        m_liveDirectories.insert(p);
    }
    return QString();
}

Result<std::optional<quint64>> CommitApplier::movedAwayParent(const RelativePath &path)
{
    for (RelativePath p = path.parent(); !p.isRoot(); p = p.parent()) {
        if (m_liveDirectories.contains(p))
            return std::optional<quint64>();
        auto found = m_files.find(m_account, p);
        if (!found)
            return found.error();
        if (!*found)
            continue; // never was: its parent decides
        const FileRow &row = **found;
        if (row.live())
            return std::optional<quint64>();
        // A move writes the source's tombstone, then the target with the next version.
        auto next = m_files.changedSince(m_account, row.version, 1);
        if (!next)
            return next.error();
        if (next->isEmpty())
            return std::optional<quint64>();
        const FileRow &target = next->first();
        if (target.version != row.version + 1 || !target.live() || !target.isDirectory()
            || target.movedFrom != p.toString())
            return std::optional<quint64>();
        return std::optional<quint64>(row.version);
    }
    return std::optional<quint64>();
}

Result<CommitResult> CommitApplier::put(const CommitOp &op)
{
    auto found = m_files.find(m_account, op.path);
    if (!found)
        return found.error();
    const std::optional<FileRow> &current = *found;
    const bool live = current && current->live();
    if (op.kind == EntryKind::Directory && live && current->isDirectory())
        return applied(current->version); // already there: a folder put is idempotent
    if (!baseMatches(current, op.baseVersion))
        return conflict(versionOf(current));
    if (!live) {
        // Something new inside a folder that was moved away, from a client that had not
        // seen the move (it would have made the folder again first): a conflict at the
        // folder's tombstone. That client reads the move, moves its folder along with the
        // new entry, and puts it at the new path. (Placed there by the server instead, the
        // client's journal named the entry at the old path, where the server had nothing.)
        auto moved = movedAwayParent(op.path);
        if (!moved)
            return moved.error();
        if (*moved)
            return conflict(**moved);
    }
    if (live && current->isDirectory()) { // a file replaces an empty folder only
        auto occupied = m_files.hasLiveDescendants(m_account, op.path);
        if (!occupied)
            return occupied.error();
        if (*occupied)
            return conflict(current->version);
    }
    QList<BlockRef> blocks = op.blocks;
    QList<BlockRef> toCheck = op.blocks;
    if (op.delta) {
        // The base rule above made `current` the op's base: the delta is read against it.
        if (op.kind != EntryKind::File || !live || current->isDirectory())
            return rejected(QStringLiteral("a block delta needs a file at its base version"));
        auto expanded = op.delta->applyTo(current->blocks);
        if (!expanded)
            return rejected(expanded.errorMessage());
        if (totalSize(*expanded) != op.size)
            return rejected(QStringLiteral("size does not match the block list"));
        blocks = *expanded;
        // Kept blocks are referenced by the account's current row already.
        toCheck = op.delta->newRefs();
    }
    auto blockProblem = checkBlocks(toCheck);
    if (!blockProblem)
        return blockProblem.error();
    if (!blockProblem->isEmpty())
        return rejected(*blockProblem);
    auto parentProblem = ensureParents(op.path);
    if (!parentProblem)
        return parentProblem.error();
    if (!parentProblem->isEmpty())
        return rejected(*parentProblem);
    FileRow row;
    row.path = op.path;
    row.kind = op.kind;
    row.size = op.size;
    row.mtimeMs = op.mtimeMs;
    row.mode = op.mode;
    row.blocks = blocks;
    if (auto w = write(row); !w)
        return w.error();
    return applied(lastWritten());
}

Result<CommitResult> CommitApplier::remove(const CommitOp &op)
{
    auto found = m_files.find(m_account, op.path);
    if (!found)
        return found.error();
    const std::optional<FileRow> &current = *found;
    if (!baseMatches(current, op.baseVersion))
        return conflict(versionOf(current));
    if (!current || !current->live())
        return applied(versionOf(current)); // already gone: nothing to do, no new version
    if (current->isDirectory()) {
        auto occupied = m_files.hasLiveDescendants(m_account, op.path);
        if (!occupied)
            return occupied.error();
        if (*occupied)
            return conflict(current->version); // somebody added something: an edit wins over a delete
    }
    FileRow tombstone = *current;
    tombstone.deleted = true;
    tombstone.movedFrom.clear();
    if (auto w = write(tombstone); !w)
        return w.error();
    return applied(lastWritten());
}

Result<CommitResult> CommitApplier::move(const CommitOp &op)
{
    if (!op.from || *op.from == op.path)
        return rejected(QStringLiteral("a move needs a source different from its target"));
    const RelativePath &from = *op.from;
    if (from.isAncestorOf(op.path))
        return rejected(QStringLiteral("%1 cannot move into itself").arg(from.toString()));
    auto source = m_files.find(m_account, from);
    if (!source)
        return source.error();
    if (!*source || !(*source)->live() || (*source)->version != op.baseVersion)
        return conflict(versionOf(*source));
    const FileRow root = **source;
    auto target = m_files.find(m_account, op.path);
    if (!target)
        return target.error();
    if (*target && (*target)->live())
        return conflict((*target)->version);

    if (root.isDirectory()) {
        // Counted before anything is read or written: a move writes two rows an entry.
        auto count = m_files.countLiveDescendants(m_account, from, kMaxRowsPerCommit);
        if (!count)
            return count.error();
        if (const QString problem = overBudget(2 * (1 + *count)); !problem.isEmpty())
            return rejected(problem);
    }
    // Every new path must be valid before anything is written. Only the prefix changes,
    // so only the total length can go past a cap (a deeper target): the longest path says.
    QStringList longest { from.toString() };
    if (root.isDirectory()) {
        auto deepest = m_files.longestLiveDescendant(m_account, from);
        if (!deepest)
            return deepest.error();
        if (*deepest)
            longest.append(**deepest);
    }
    for (const QString &path : std::as_const(longest)) {
        auto old = RelativePath::fromString(path);
        if (!old)
            return rejected(old.errorMessage());
        auto rebased = RelativePath::fromString(old->rebased(from, op.path).toString());
        if (!rebased)
            return rejected(QStringLiteral("moving %1 to %2 would give an invalid path: %3")
                                .arg(from.toString(), op.path.toString(), rebased.errorMessage()));
    }
    auto parentProblem = ensureParents(op.path);
    if (!parentProblem)
        return parentProblem.error();
    if (!parentProblem->isEmpty())
        return rejected(*parentProblem);

    // The root's tombstone, then its new row; then each entry under it in path order, the
    // same two rows each (every folder before its content), written by the table at once.
    FileRow tombstone = root;
    tombstone.deleted = true;
    tombstone.movedFrom.clear();
    if (auto w = write(tombstone); !w)
        return w.error();
    FileRow moved = root;
    moved.path = op.path;
    moved.movedFrom = from.toString();
    if (auto w = write(moved); !w)
        return w.error();
    const quint64 rootVersion = lastWritten();
    if (root.isDirectory()) {
        auto count = m_files.moveLiveDescendants(m_account, from, op.path, m_head + 1, m_origin);
        if (!count)
            return count.error();
        m_head += quint64(2 * *count);
        m_rowsWritten += 2 * *count;
    }
    return applied(rootVersion);
}

} // namespace filesync
