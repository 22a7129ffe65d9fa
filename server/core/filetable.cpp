#include "filetable.h"

#include "serverlogging.h"

#include <QSqlError>
#include <QVariant>

namespace filesync {

using namespace protocol;

namespace {

// Reads the columns path, kind, deleted, size, mtime, mode, blocks, version, origin,
// moved_from. A stored path is re-validated: the database is not trusted more than the
// network.
std::optional<FileRow> readRow(const SqliteStatement &q)
{
    auto path = RelativePath::fromString(q.text(0));
    if (!path || path->isRoot()) {
        qCWarning(lcMetadata) << "skipping an invalid stored path";
        return std::nullopt;
    }
    FileRow r;
    r.path = *path;
    r.kind = q.int64(1) == 1 ? EntryKind::Directory : EntryKind::File;
    r.deleted = q.int64(2) != 0;
    r.size = q.int64(3);
    r.mtimeMs = q.int64(4);
    r.mode = quint32(q.int64(5));
    r.blocks = FileTable::decodeBlocks(q.blob(6));
    r.version = quint64(q.int64(7));
    r.origin = q.text(8);
    if (r.origin.isNull())
        r.origin = QStringLiteral("");
    r.movedFrom = q.text(9);
    return r;
}

} // namespace

Error sqlError(const QSqlQuery &query)
{
    qCWarning(lcMetadata) << "database error:" << query.lastError().text();
    return makeError(QStringLiteral("the server's database failed: %1").arg(query.lastError().text()));
}

Error sqlError(const SqliteStatement &statement)
{
    qCWarning(lcMetadata) << "database error:" << statement.errorMessage();
    return makeError(QStringLiteral("the server's database failed: %1").arg(statement.errorMessage()));
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
    else if (kind == EntryKind::File)
        e.removedContent = blockListDigest(blocks);
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
    return 128 + 3 * (path.toString().size() + movedFrom.size() + origin.size())
        + (deleted ? 40 : 40 * qint64(blocks.size()));
}

FileTable::FileTable(const QSqlDatabase &db)
    : m_db(db)
    , m_find(db,
          "SELECT path, kind, deleted, size, mtime, mode, blocks, version, origin, moved_from FROM files "
          "WHERE account = ?1 AND path = ?2")
    , m_write(db,
          "INSERT OR REPLACE INTO files(account, path, kind, deleted, size, mtime, mode, blocks, version, "
          "origin, moved_from) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
    , m_changedSince(db,
          "SELECT path, kind, deleted, size, mtime, mode, blocks, version, origin, moved_from FROM files "
          "WHERE account = ?1 AND version > ?2 ORDER BY version LIMIT ?3")
    // A folder's live entries (?2 < path < ?3) numbered in path order: '/' made char(1),
    // below every character a name may hold (RelativePath allows no control characters),
    // so that BINARY order compares name by name. Versions from ?4, origin ?5; the new
    // rows go from under ?7 to under ?6.
    , m_moveRows(db,
          "INSERT OR REPLACE INTO files(account, path, kind, deleted, size, mtime, mode, blocks, version, origin, "
          "moved_from) SELECT account, ?6 || substr(path, length(?7) + 1), kind, 0, size, mtime, mode, blocks, "
          "?4 + 2 * (ROW_NUMBER() OVER (ORDER BY replace(path, '/', char(1))) - 1) + 1, ?5, path "
          "FROM files WHERE account = ?1 AND path > ?2 AND path < ?3 AND deleted = 0")
    , m_moveTombstones(db,
          "INSERT OR REPLACE INTO files(account, path, kind, deleted, size, mtime, mode, blocks, version, origin, "
          "moved_from) SELECT account, path, kind, 1, 0, mtime, mode, blocks, "
          "?4 + 2 * (ROW_NUMBER() OVER (ORDER BY replace(path, '/', char(1))) - 1), ?5, NULL "
          "FROM files WHERE account = ?1 AND path > ?2 AND path < ?3 AND deleted = 0")
{ }

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
    m_find.bind(1, qint64(account));
    m_find.bind(2, path.toString());
    std::optional<FileRow> row;
    if (m_find.next())
        row = readRow(m_find);
    if (m_find.failed() || !m_find.isValid()) {
        const Error error = sqlError(m_find);
        m_find.reset();
        return error;
    }
    m_find.reset();
    return row;
}

Result<bool> FileTable::hasLiveDescendants(AccountKey account, const RelativePath &dir)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral(
        "SELECT EXISTS(SELECT 1 FROM files WHERE account = ? AND path > ? AND path < ? AND deleted = 0)"));
    const auto [below, above] = dir.descendantBounds();
    q.addBindValue(account);
    q.addBindValue(below);
    q.addBindValue(above);
    if (!q.exec() || !q.next())
        return sqlError(q);
    return q.value(0).toBool();
}

Result<qint64> FileTable::countLiveDescendants(AccountKey account, const RelativePath &dir, qint64 atMost)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT COUNT(*) FROM (SELECT 1 FROM files WHERE account = ? AND path > ? AND path < ? "
                             "AND deleted = 0 LIMIT ?)"));
    q.addBindValue(account);
    q.addBindValue(QString(dir.toString() + u'/'));
    q.addBindValue(QString(dir.toString() + u'0'));
    q.addBindValue(atMost);
    if (!q.exec() || !q.next())
        return sqlError(q);
    return q.value(0).toLongLong();
}

Result<std::optional<QString>> FileTable::longestLiveDescendant(AccountKey account, const RelativePath &dir)
{
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT path FROM files WHERE account = ? AND path > ? AND path < ? AND deleted = 0 "
                             "ORDER BY length(CAST(path AS BLOB)) DESC LIMIT 1"));
    const auto [below, above] = dir.descendantBounds();
    q.addBindValue(account);
    q.addBindValue(below);
    q.addBindValue(above);
    if (!q.exec())
        return sqlError(q);
    if (!q.next())
        return std::optional<QString>();
    return std::optional<QString>(q.value(0).toString());
}

Result<qint64> FileTable::moveLiveDescendants(
    AccountKey account, const RelativePath &from, const RelativePath &to, quint64 firstVersion, const QString &origin)
{
    Q_ASSERT(!from.isAncestorOf(to) && !to.isAncestorOf(from));
    auto count = countLiveDescendants(account, from, std::numeric_limits<qint64>::max());
    if (!count)
        return count.error();
    const auto [below, above] = from.descendantBounds();
    // The new rows first: the tombstones then select the same live rows, in the same order.
    for (SqliteStatement *statement : { &m_moveRows, &m_moveTombstones }) {
        statement->bind(1, qint64(account));
        statement->bind(2, below);
        statement->bind(3, above);
        statement->bind(4, qint64(firstVersion));
        statement->bind(5, origin.isNull() ? QStringLiteral("") : origin);
        if (statement == &m_moveRows) {
            statement->bind(6, to.toString());
            statement->bind(7, from.toString());
        }
        (void)statement->next();
        if (statement->failed() || !statement->isValid()) {
            const Error error = sqlError(*statement);
            statement->reset();
            return error;
        }
        statement->reset();
    }
    return *count;
}

Result<void> FileTable::write(AccountKey account, const FileRow &r)
{
    m_write.bind(1, qint64(account));
    m_write.bind(2, r.path.toString());
    m_write.bind(3, qint64(r.kind));
    m_write.bind(4, qint64(r.deleted ? 1 : 0));
    m_write.bind(5, r.deleted ? 0 : r.size);
    m_write.bind(6, r.mtimeMs);
    m_write.bind(7, qint64(r.mode));
    m_write.bind(8, encodeBlocks(r.blocks)); // a tombstone keeps what it removed
    m_write.bind(9, qint64(r.version));
    m_write.bind(10, r.origin.isNull() ? QStringLiteral("") : r.origin); // a null QString binds as NULL
    m_write.bind(11, r.movedFrom.isEmpty() ? QString() : r.movedFrom);
    (void)m_write.next();
    if (m_write.failed() || !m_write.isValid()) {
        const Error error = sqlError(m_write);
        m_write.reset();
        return error;
    }
    m_write.reset();
    return {};
}

Result<QList<FileRow>> FileTable::changedSince(AccountKey account, quint64 since, int limit)
{
    m_changedSince.bind(1, qint64(account));
    m_changedSince.bind(2, qint64(qMin<quint64>(since, quint64(std::numeric_limits<qint64>::max()))));
    m_changedSince.bind(3, qint64(limit));
    QList<FileRow> rows;
    while (m_changedSince.next()) {
        if (auto r = readRow(m_changedSince))
            rows.append(std::move(*r));
    }
    // Reset in every case: a statement left stepping holds its read transaction open.
    if (m_changedSince.failed() || !m_changedSince.isValid()) {
        const Error error = sqlError(m_changedSince);
        m_changedSince.reset();
        return error;
    }
    m_changedSince.reset();
    return rows;
}

} // namespace filesync
