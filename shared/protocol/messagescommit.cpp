// The messages of a commit: CommitOp, CommitResult, Commit, CommitReply.
#include "messages.h"

#include "messagefields.h"

namespace filesync::protocol {

using namespace fields;

// ---- CommitOp ----

QCborMap CommitOp::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("op"), qint64(op));
    m.insert(QLatin1String("path"), path.toString());
    if (from)
        m.insert(QLatin1String("from"), from->toString());
    m.insert(QLatin1String("kind"), qint64(kind));
    m.insert(QLatin1String("base"), u(baseVersion));
    if (op == CommitOpKind::Put) {
        m.insert(QLatin1String("size"), size);
        m.insert(QLatin1String("mtime"), mtimeMs);
        m.insert(QLatin1String("mode"), qint64(mode));
        if (delta) {
            m.insert(QLatin1String("delta"), delta->toCbor());
            m.insert(QLatin1String("digest"), delta->digest.bytes());
        } else if (!blocks.isEmpty()) {
            m.insert(QLatin1String("blocks"), blocksToCbor(blocks));
        }
    }
    return m;
}

Result<CommitOp> CommitOp::fromCbor(const QCborMap &m)
{
    CommitOp o;
    TRY(op, readUInt(m, "op"));
    if (*op > 2)
        return fieldError("op", "must be 0 (put), 1 (delete) or 2 (move)");
    o.op = CommitOpKind(*op);
    TRY(path, readPath(m, "path"));
    o.path = *path;
    TRY(kind, readKind(m));
    o.kind = *kind;
    TRY(base, readUInt(m, "base"));
    o.baseVersion = *base;
    if (o.op == CommitOpKind::Move) {
        TRY(from, readPath(m, "from"));
        if (*from == o.path || from->isAncestorOf(o.path))
            return makeError(QStringLiteral("cannot move a path into itself"));
        o.from = *from;
    }
    if (o.op == CommitOpKind::Put) {
        TRY(size, readInt(m, "size"));
        TRY(mtime, readInt(m, "mtime"));
        TRY(mode, readU32(m, "mode"));
        TRY(blocks, blocksFromCbor(m, "blocks"));
        o.size = *size;
        o.mtimeMs = *mtime;
        o.mode = *mode;
        o.blocks = *blocks;
        if (m.contains(QLatin1String("delta"))) {
            // The size is checked once the server has expanded the delta against its base.
            if (o.kind != EntryKind::File || !o.blocks.isEmpty() || o.baseVersion == 0)
                return makeError(
                    QStringLiteral("a block delta belongs to a put of a file with a base, without 'blocks'"));
            TRY(delta, BlockListDelta::fromCbor(m.value(QLatin1String("delta")), m.value(QLatin1String("digest"))));
            if (o.size < 0)
                return makeError(QStringLiteral("negative size"));
            o.delta = *delta;
        } else if (auto c = checkContent(o.kind, o.size, o.blocks); !c) {
            return c.error();
        }
    }
    return o;
}

// ---- CommitResult ----

QCborMap CommitResult::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("status"), qint64(status));
    if (version)
        m.insert(QLatin1String("ver"), u(version));
    if (currentVersion)
        m.insert(QLatin1String("cur"), u(currentVersion));
    if (!reason.isEmpty())
        m.insert(QLatin1String("reason"), reason);
    return m;
}

Result<CommitResult> CommitResult::fromCbor(const QCborMap &m)
{
    CommitResult r;
    TRY(status, readUInt(m, "status"));
    if (*status > 2)
        return fieldError("status", "is out of range");
    TRY(ver, readUInt(m, "ver", false));
    TRY(cur, readUInt(m, "cur", false));
    TRY(reason, readText(m, "reason", false));
    r.status = CommitStatus(*status);
    r.version = *ver;
    r.currentVersion = *cur;
    r.reason = *reason;
    return r;
}

// ---- commit ----

QCborMap Commit::toCbor() const
{
    QCborArray a;
    for (const CommitOp &op : ops)
        a.append(op.toCbor());
    return QCborMap { { QLatin1String("ops"), a } };
}

Result<Commit> Commit::fromCbor(const QCborMap &m)
{
    Commit c;
    TRY(array, readArray(m, "ops", kMaxOpsPerCommit));
    for (const QCborValue &v : *array) {
        if (!v.isMap())
            return fieldError("ops", "must hold maps");
        TRY(op, CommitOp::fromCbor(v.toMap()));
        c.ops.append(*op);
    }
    return c;
}

QCborMap CommitReply::toCbor() const
{
    QCborArray a;
    for (const CommitResult &r : results)
        a.append(r.toCbor());
    return QCborMap { { QLatin1String("results"), a }, { QLatin1String("head"), u(head) },
        { QLatin1String("prev"), u(prev) } };
}

Result<CommitReply> CommitReply::fromCbor(const QCborMap &m)
{
    CommitReply c;
    TRY(array, readArray(m, "results", kMaxOpsPerCommit));
    for (const QCborValue &v : *array) {
        if (!v.isMap())
            return fieldError("results", "must hold maps");
        TRY(r, CommitResult::fromCbor(v.toMap()));
        c.results.append(*r);
    }
    TRY(head, readUInt(m, "head"));
    c.head = *head;
    TRY(prev, readUInt(m, "prev"));
    if (*prev > *head)
        return fieldError("prev", "is past the head");
    c.prev = *prev;
    return c;
}

} // namespace filesync::protocol
