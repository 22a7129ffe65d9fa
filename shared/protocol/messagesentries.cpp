// The messages of the change feed: FileEntry, GetChanges/Changes, Advanced.
#include "messages.h"

#include "messagefields.h"

namespace filesync::protocol {

using namespace fields;

// ---- FileEntry ----

QCborMap FileEntry::toCbor() const
{
    QCborMap m;
    m.insert(QLatin1String("path"), path.toString());
    m.insert(QLatin1String("kind"), qint64(kind));
    if (deleted)
        m.insert(QLatin1String("del"), true);
    m.insert(QLatin1String("size"), size);
    m.insert(QLatin1String("mtime"), mtimeMs);
    m.insert(QLatin1String("mode"), qint64(mode));
    if (!blocks.isEmpty())
        m.insert(QLatin1String("blocks"), blocksToCbor(blocks));
    m.insert(QLatin1String("ver"), u(version));
    m.insert(QLatin1String("origin"), origin);
    if (movedFrom)
        m.insert(QLatin1String("from"), movedFrom->toString());
    if (removedContent)
        m.insert(QLatin1String("was"), removedContent->bytes());
    return m;
}

Result<FileEntry> FileEntry::fromCbor(const QCborMap &m)
{
    FileEntry e;
    TRY(path, readPath(m, "path"));
    TRY(kind, readKind(m));
    TRY(del, readBool(m, "del"));
    TRY(size, readInt(m, "size"));
    TRY(mtime, readInt(m, "mtime"));
    TRY(mode, readU32(m, "mode"));
    TRY(blocks, blocksFromCbor(m, "blocks"));
    TRY(ver, readUInt(m, "ver"));
    TRY(origin, readText(m, "origin", false, 256));
    e.path = *path;
    e.kind = *kind;
    e.deleted = *del;
    e.size = *size;
    e.mtimeMs = *mtime;
    e.mode = *mode;
    e.blocks = *blocks;
    e.version = *ver;
    e.origin = *origin;
    if (m.contains(QLatin1String("from"))) {
        TRY(from, readPath(m, "from"));
        e.movedFrom = *from;
    }
    if (m.contains(QLatin1String("was"))) {
        TRY(was, readHash(m, "was"));
        if (!e.deleted || e.kind != EntryKind::File)
            return fieldError("was", "belongs to a file's tombstone only");
        e.removedContent = *was;
    }
    if (!e.deleted) {
        if (auto c = checkContent(e.kind, e.size, e.blocks); !c)
            return c.error();
    }
    return e;
}

// ---- changes ----

QCborMap GetChanges::toCbor() const
{
    return QCborMap { { QLatin1String("since"), u(since) }, { QLatin1String("limit"), qint64(limit) } };
}

Result<GetChanges> GetChanges::fromCbor(const QCborMap &m)
{
    TRY(since, readUInt(m, "since"));
    TRY(limit, readUInt(m, "limit", false, kMaxEntriesPerChanges));
    return GetChanges { *since, quint32(qBound<quint64>(1, *limit, kMaxEntriesPerChanges)) };
}

QCborMap Changes::toCbor() const
{
    QCborArray a;
    for (const FileEntry &e : entries)
        a.append(e.toCbor());
    return QCborMap { { QLatin1String("entries"), a }, { QLatin1String("head"), u(head) },
        { QLatin1String("next"), u(next) }, { QLatin1String("more"), more } };
}

Result<Changes> Changes::fromCbor(const QCborMap &m)
{
    Changes c;
    TRY(array, readArray(m, "entries", kMaxEntriesPerChanges));
    for (const QCborValue &v : *array) {
        if (!v.isMap())
            return fieldError("entries", "must hold maps");
        TRY(entry, FileEntry::fromCbor(v.toMap()));
        c.entries.append(*entry);
    }
    TRY(head, readUInt(m, "head"));
    TRY(next, readUInt(m, "next"));
    TRY(more, readBool(m, "more"));
    c.head = *head;
    c.next = *next;
    c.more = *more;
    return c;
}

QCborMap Advanced::toCbor() const
{
    return QCborMap { { QLatin1String("head"), u(head) } };
}

Result<Advanced> Advanced::fromCbor(const QCborMap &m)
{
    TRY(head, readUInt(m, "head"));
    return Advanced { *head };
}

} // namespace filesync::protocol
