#include "filetable.h"

#include "serverlogging.h"

#include <QSqlError>
#include <QVariant>

namespace filesync {

using namespace protocol;

namespace {

const char kColumns[] = "path, kind, deleted, size, mtime, mode, blocks, version, origin, moved_from";

// Reads the columns of kColumns. A stored path is re-validated: the database is not
// trusted more than the network.
std::optional<FileRow> readRow(const QSqlQuery &q)
{
    auto path = RelativePath::fromString(q.value(0).toString());
    if (!path || path->isRoot()) {
        qCWarning(lcMetadata) << "skipping an invalid stored path";
        return std::nullopt;
    }
    FileRow r;
    r.path = *path;
    r.kind = q.value(1).toInt() == 1 ? EntryKind::Directory : EntryKind::File;
    r.deleted = q.value(2).toBool();
    r.size = q.value(3).toLongLong();
    r.mtimeMs = q.value(4).toLongLong();
    r.mode = quint32(q.value(5).toLongLong());
    r.blocks = FileTable::decodeBlocks(q.value(6).toByteArray());
    r.version = quint64(q.value(7).toLongLong());
    r.origin = q.value(8).toString();
    r.movedFrom = q.value(9).toString();
    return r;
}

QString sql(const char *pattern)
{
    return QString::fromLatin1(pattern).arg(QLatin1String(kColumns));
}

} // namespace

Error sqlError(const QSqlQuery &query)
{
    qCWarning(lcMetadata) << "database error:" << query.lastError().text();
    return makeError(QStringLiteral("the server's database failed: %1").arg(query.lastError().text()));
}

FileEntry FileRow::toEntry() const
{
    FileEntry e;
    e.path = path;
    e.kind = kind;
    e.deleted = deleted;
    e.size = deleted ? 0 : size;
    e.mtimeMs = mtimeMs;
    e.mode = mode;
    if (!deleted)
        e.blocks = blocks;
    e.version = version;
    e.origin = origin;
    if (!movedFrom.isEmpty()) {
        if (auto from = RelativePath::fromString(movedFrom))
            e.movedFrom = *from;
    }
    return e;
}

qint64 FileRow::estimatedWireSize() const
{
    // Keys and integers take under 100 bytes; text is at most 3 UTF-8 bytes per UTF-16
    // unit; a block reference is a 2-array of a 32-byte string and an integer (<= 40).
    return 128 + 3 * (path.toString().size() + movedFrom.size() + origin.size()) + 40 * qint64(blocks.size());
}

FileTable::FileTable(const QSqlDatabase &db)
    : m_db(db)
    , m_find(db)
    , m_write(db)
{
    m_find.prepare(sql("SELECT %1 FROM files WHERE account = ? AND path = ?"));
    m_write.prepare(QStringLiteral("INSERT OR REPLACE INTO files(account, path, kind, deleted, size, mtime, mode, "
                                   "blocks, version, origin, moved_from) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
}

QByteArray FileTable::encodeBlocks(const QList<BlockRef> &blocks)
{
    return packBlockList(blocks);
}

QList<BlockRef> FileTable::decodeBlocks(const QByteArray &bytes)
{
    return unpackBlockList(bytes);
}

Result<std::optional<FileRow>> FileTable::find(AccountKey account, const RelativePath &path)
{
    m_find.bindValue(0, account);
    m_find.bindValue(1, path.toString());
    if (!m_find.exec())
        return sqlError(m_find);
    std::optional<FileRow> row;
    if (m_find.next())
        row = readRow(m_find);
    m_find.finish();
    return row;
}

Result<QList<FileRow>> FileTable::liveDescendants(AccountKey account, const RelativePath &dir)
{
    // Descendants sort between "dir/" and "dir0" ('0' follows '/').
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    q.prepare(sql("SELECT %1 FROM files WHERE account = ? AND path > ? AND path < ? AND deleted = 0 ORDER BY path"));
    q.addBindValue(account);
    q.addBindValue(QString(dir.toString() + u'/'));
    q.addBindValue(QString(dir.toString() + u'0'));
    if (!q.exec())
        return sqlError(q);
    QList<FileRow> rows;
    while (q.next()) {
        if (auto r = readRow(q))
            rows.append(*r);
    }
    return rows;
}

Result<bool> FileTable::hasLiveDescendants(AccountKey account, const RelativePath &dir)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral(
        "SELECT EXISTS(SELECT 1 FROM files WHERE account = ? AND path > ? AND path < ? AND deleted = 0)"));
    q.addBindValue(account);
    q.addBindValue(QString(dir.toString() + u'/'));
    q.addBindValue(QString(dir.toString() + u'0'));
    if (!q.exec() || !q.next())
        return sqlError(q);
    return q.value(0).toBool();
}

Result<void> FileTable::write(AccountKey account, const FileRow &r)
{
    m_write.bindValue(0, account);
    m_write.bindValue(1, r.path.toString());
    m_write.bindValue(2, int(r.kind));
    m_write.bindValue(3, r.deleted ? 1 : 0);
    m_write.bindValue(4, r.deleted ? 0 : r.size);
    m_write.bindValue(5, r.mtimeMs);
    m_write.bindValue(6, qint64(r.mode));
    m_write.bindValue(7, r.deleted ? QByteArray() : encodeBlocks(r.blocks));
    m_write.bindValue(8, qint64(r.version));
    m_write.bindValue(9, r.origin.isNull() ? QStringLiteral("") : r.origin); // a null QString binds as NULL
    m_write.bindValue(10, r.movedFrom.isEmpty() ? QVariant() : QVariant(r.movedFrom));
    if (!m_write.exec())
        return sqlError(m_write);
    return {};
}

Result<QList<FileRow>> FileTable::changedSince(AccountKey account, quint64 since, int limit)
{
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    q.prepare(sql("SELECT %1 FROM files WHERE account = ? AND version > ? ORDER BY version LIMIT ?"));
    q.addBindValue(account);
    q.addBindValue(qint64(qMin<quint64>(since, quint64(std::numeric_limits<qint64>::max()))));
    q.addBindValue(limit);
    if (!q.exec())
        return sqlError(q);
    QList<FileRow> rows;
    while (q.next()) {
        if (auto r = readRow(q))
            rows.append(*r);
    }
    return rows;
}

} // namespace filesync
