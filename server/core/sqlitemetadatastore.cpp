#include "sqlitemetadatastore.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <QVariant>
#include <QtEndian>

Q_LOGGING_CATEGORY(lcMetadata, "filesync.server.metadata")

namespace filesync {

using namespace protocol;

// One row of the files table: the current state of a path (possibly a tombstone).
struct FileRow
{
    RelativePath path;
    EntryKind kind = EntryKind::File;
    bool deleted = false;
    qint64 size = 0;
    qint64 mtimeMs = 0;
    quint32 mode = 0;
    QList<BlockRef> blocks;
    quint64 version = 0;
    QString origin;
    QString movedFrom;

    bool live() const { return !deleted; }
};

namespace {

constexpr int kSchemaVersion = 1;

QByteArray encodeBlocks(const QList<BlockRef> &blocks)
{
    QByteArray out;
    out.reserve(blocks.size() * 36);
    for (const BlockRef &b : blocks) {
        out.append(b.hash.bytes());
        char size[4];
        qToBigEndian(b.size, size);
        out.append(size, 4);
    }
    return out;
}

QList<BlockRef> decodeBlocks(const QByteArray &bytes)
{
    QList<BlockRef> blocks;
    for (qsizetype at = 0; at + 36 <= bytes.size(); at += 36) {
        BlockRef b;
        b.hash = *ContentHash::fromBytes(QByteArrayView(bytes).sliced(at, 32));
        b.size = qFromBigEndian<quint32>(bytes.constData() + at + 32);
        blocks.append(b);
    }
    return blocks;
}

Error sqlError(const QSqlQuery &q)
{
    qCWarning(lcMetadata) << "database error:" << q.lastError().text();
    return makeError(QStringLiteral("database error: %1").arg(q.lastError().text()));
}

// Upper bound of the key range of a directory's descendants: '/' + 1 == '0'.
QString descendantsEnd(const RelativePath &dir)
{
    return dir.toString() + u'0';
}

qint64 estimatedSize(const FileRow &r)
{
    return 96 + r.path.toString().size() * 3 + r.movedFrom.size() * 3 + r.origin.size() + r.blocks.size() * 40;
}

FileEntry toEntry(const FileRow &r)
{
    FileEntry e;
    e.path = r.path;
    e.kind = r.kind;
    e.deleted = r.deleted;
    e.size = r.deleted ? 0 : r.size;
    e.mtimeMs = r.mtimeMs;
    e.mode = r.mode;
    if (!r.deleted)
        e.blocks = r.blocks;
    e.version = r.version;
    e.origin = r.origin;
    if (!r.movedFrom.isEmpty()) {
        if (auto from = RelativePath::fromString(r.movedFrom))
            e.movedFrom = *from;
    }
    return e;
}

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

} // namespace

// Rolls back unless committed.
class SqliteMetadataStore::Transaction
{
public:
    explicit Transaction(QSqlDatabase &db)
        : m_db(db)
        , m_open(db.transaction())
    { }
    ~Transaction()
    {
        if (m_open)
            m_db.rollback();
    }
    bool isOpen() const { return m_open; }
    bool commit()
    {
        m_open = false;
        return m_db.commit();
    }

private:
    QSqlDatabase &m_db;
    bool m_open;
};

SqliteMetadataStore::SqliteMetadataStore(const QString &databasePath)
    : m_path(databasePath)
    , m_connectionName(QStringLiteral("filesync-meta-") + QUuid::createUuid().toString(QUuid::WithoutBraces))
{ }

SqliteMetadataStore::~SqliteMetadataStore()
{
    close();
}

Result<void> SqliteMetadataStore::open()
{
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connectionName);
    m_db.setDatabaseName(m_path);
    if (!m_db.open())
        return makeError(
            QStringLiteral("cannot open the metadata database %1: %2").arg(m_path, m_db.lastError().text()));
    QSqlQuery q(m_db);
    for (const char *pragma : { "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
             "PRAGMA busy_timeout=5000" }) {
        if (!q.exec(QLatin1String(pragma)))
            return sqlError(q);
    }
    return migrate();
}

void SqliteMetadataStore::close()
{
    if (m_db.isValid()) {
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connectionName);
    }
}

Result<void> SqliteMetadataStore::migrate()
{
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return sqlError(q);
    const int version = q.value(0).toInt();
    if (version == kSchemaVersion)
        return {};
    if (version > kSchemaVersion)
        return makeError(QStringLiteral("the metadata database is from a newer FileSync (schema %1)").arg(version));
    Transaction tx(m_db);
    const char *statements[] = {
        "CREATE TABLE accounts(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, head INTEGER NOT NULL DEFAULT 0,"
        " created INTEGER NOT NULL)",
        "CREATE TABLE sessions(id INTEGER PRIMARY KEY, account INTEGER NOT NULL REFERENCES accounts(id),"
        " name TEXT NOT NULL, created INTEGER NOT NULL)",
        "CREATE TABLE files(account INTEGER NOT NULL REFERENCES accounts(id), path TEXT NOT NULL,"
        " kind INTEGER NOT NULL, deleted INTEGER NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,"
        " mode INTEGER NOT NULL, blocks BLOB, version INTEGER NOT NULL, origin TEXT NOT NULL,"
        " moved_from TEXT, PRIMARY KEY(account, path)) WITHOUT ROWID",
        "CREATE INDEX files_by_version ON files(account, version)",
        "CREATE TABLE account_blocks(account INTEGER NOT NULL REFERENCES accounts(id), hash BLOB NOT NULL,"
        " PRIMARY KEY(account, hash)) WITHOUT ROWID",
    };
    for (const char *sql : statements) {
        if (!q.exec(QLatin1String(sql)))
            return sqlError(q);
    }
    if (!q.exec(QStringLiteral("PRAGMA user_version=%1").arg(kSchemaVersion)))
        return sqlError(q);
    if (!tx.commit())
        return makeError(QStringLiteral("cannot create the metadata schema"));
    return {};
}

Result<AccountKey> SqliteMetadataStore::createAccount(const QByteArray &idHash)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT INTO accounts(hash, created) VALUES(?, ?)"));
    q.addBindValue(idHash);
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    if (!q.exec())
        return sqlError(q);
    return q.lastInsertId().toLongLong();
}

Result<std::optional<AccountKey>> SqliteMetadataStore::findAccount(const QByteArray &idHash)
{
    // The lookup is by the hash of a 160-bit secret, so a timing difference reveals
    // nothing usable; the caller still compares the stored hash in constant time.
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT id FROM accounts WHERE hash = ?"));
    q.addBindValue(idHash);
    if (!q.exec())
        return sqlError(q);
    if (!q.next())
        return std::optional<AccountKey>();
    return std::optional<AccountKey>(q.value(0).toLongLong());
}

Result<qint64> SqliteMetadataStore::accountCount()
{
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("SELECT COUNT(*) FROM accounts")) || !q.next())
        return sqlError(q);
    return q.value(0).toLongLong();
}

Result<qint64> SqliteMetadataStore::createSession(AccountKey account, const QString &name)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT INTO sessions(account, name, created) VALUES(?, ?, ?)"));
    q.addBindValue(account);
    q.addBindValue(name.isNull() ? QStringLiteral("") : name); // a null QString binds as NULL
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    if (!q.exec())
        return sqlError(q);
    return q.lastInsertId().toLongLong();
}

Result<quint64> SqliteMetadataStore::head(AccountKey account)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT head FROM accounts WHERE id = ?"));
    q.addBindValue(account);
    if (!q.exec() || !q.next())
        return sqlError(q);
    return quint64(q.value(0).toLongLong());
}

namespace {
const char kRowColumns[] = "path, kind, deleted, size, mtime, mode, blocks, version, origin, moved_from";

std::optional<FileRow> readRow(const QSqlQuery &q)
{
    auto path = RelativePath::fromString(q.value(0).toString());
    if (!path) {
        qCWarning(lcMetadata) << "skipping an invalid stored path";
        return std::nullopt;
    }
    FileRow r;
    r.path = *path;
    r.kind = EntryKind(q.value(1).toInt());
    r.deleted = q.value(2).toBool();
    r.size = q.value(3).toLongLong();
    r.mtimeMs = q.value(4).toLongLong();
    r.mode = quint32(q.value(5).toLongLong());
    r.blocks = decodeBlocks(q.value(6).toByteArray());
    r.version = quint64(q.value(7).toLongLong());
    r.origin = q.value(8).toString();
    r.movedFrom = q.value(9).toString();
    return r;
}
} // namespace

Result<protocol::Changes> SqliteMetadataStore::changesSince(
    AccountKey account, quint64 since, int limit, qint64 byteBudget)
{
    auto currentHead = head(account);
    if (!currentHead)
        return currentHead.error();
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT %1 FROM files WHERE account = ? AND version > ? ORDER BY version LIMIT ?")
                  .arg(QLatin1String(kRowColumns)));
    q.addBindValue(account);
    q.addBindValue(qint64(since));
    q.addBindValue(limit + 1);
    if (!q.exec())
        return sqlError(q);
    Changes changes;
    changes.head = *currentHead;
    changes.next = since;
    qint64 bytes = 0;
    while (q.next()) {
        const auto r = readRow(q);
        if (!r)
            continue;
        const qint64 size = estimatedSize(*r);
        if (changes.entries.size() >= limit || (!changes.entries.isEmpty() && bytes + size > byteBudget)) {
            changes.more = true;
            break;
        }
        bytes += size;
        changes.entries.append(toEntry(*r));
        changes.next = r->version;
    }
    if (!changes.more)
        changes.next = changes.head;
    return changes;
}

Result<QList<ContentHash>> SqliteMetadataStore::unprovenBlocks(AccountKey account, const QList<ContentHash> &hashes)
{
    QList<ContentHash> missing;
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT 1 FROM account_blocks WHERE account = ? AND hash = ?"));
    for (const ContentHash &h : hashes) {
        q.bindValue(0, account);
        q.bindValue(1, h.bytes());
        if (!q.exec())
            return sqlError(q);
        if (!q.next())
            missing.append(h);
    }
    return missing;
}

Result<void> SqliteMetadataStore::recordProvenBlock(AccountKey account, const ContentHash &hash)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT OR IGNORE INTO account_blocks(account, hash) VALUES(?, ?)"));
    q.addBindValue(account);
    q.addBindValue(hash.bytes());
    if (!q.exec())
        return sqlError(q);
    return {};
}

Result<bool> SqliteMetadataStore::isProvenBlock(AccountKey account, const ContentHash &hash)
{
    auto missing = unprovenBlocks(account, { hash });
    if (!missing)
        return missing.error();
    return missing->isEmpty();
}

Result<std::optional<FileRow>> SqliteMetadataStore::row(AccountKey account, const RelativePath &path)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT %1 FROM files WHERE account = ? AND path = ?").arg(QLatin1String(kRowColumns)));
    q.addBindValue(account);
    q.addBindValue(path.toString());
    if (!q.exec())
        return sqlError(q);
    if (!q.next())
        return std::optional<FileRow>();
    return readRow(q);
}

Result<QList<FileRow>> SqliteMetadataStore::liveDescendants(AccountKey account, const RelativePath &dir)
{
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    q.prepare(QStringLiteral("SELECT %1 FROM files WHERE account = ? AND path > ? AND path < ? AND deleted = 0 "
                             "ORDER BY path")
                  .arg(QLatin1String(kRowColumns)));
    q.addBindValue(account);
    q.addBindValue(QString(dir.toString() + u'/'));
    q.addBindValue(descendantsEnd(dir));
    if (!q.exec())
        return sqlError(q);
    QList<FileRow> rows;
    while (q.next()) {
        if (auto r = readRow(q))
            rows.append(*r);
    }
    return rows;
}

Result<void> SqliteMetadataStore::writeRow(AccountKey account, const FileRow &r)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO files(account, path, kind, deleted, size, mtime, mode, blocks, "
                             "version, origin, moved_from) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.addBindValue(account);
    q.addBindValue(r.path.toString());
    q.addBindValue(int(r.kind));
    q.addBindValue(r.deleted ? 1 : 0);
    q.addBindValue(r.size);
    q.addBindValue(r.mtimeMs);
    q.addBindValue(qint64(r.mode));
    q.addBindValue(r.deleted ? QByteArray() : encodeBlocks(r.blocks));
    q.addBindValue(qint64(r.version));
    q.addBindValue(r.origin.isNull() ? QStringLiteral("") : r.origin);
    q.addBindValue(r.movedFrom.isEmpty() ? QVariant() : QVariant(r.movedFrom));
    if (!q.exec())
        return sqlError(q);
    return {};
}

Result<protocol::CommitReply> SqliteMetadataStore::commit(
    AccountKey account, const QString &origin, const QList<protocol::CommitOp> &ops)
{
    Transaction tx(m_db);
    if (!tx.isOpen())
        return makeError(QStringLiteral("cannot start a database transaction"));
    auto startHead = head(account);
    if (!startHead)
        return startHead.error();
    quint64 current = *startHead;
    CommitReply reply;
    for (const CommitOp &op : ops) {
        auto result = applyOp(account, origin, op, current);
        if (!result)
            return result.error(); // a database failure: everything rolls back
        reply.results.append(*result);
    }
    if (current != *startHead) {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("UPDATE accounts SET head = ? WHERE id = ?"));
        q.addBindValue(qint64(current));
        q.addBindValue(account);
        if (!q.exec())
            return sqlError(q);
    }
    if (!tx.commit())
        return makeError(QStringLiteral("cannot commit the database transaction"));
    reply.head = current;
    return reply;
}

Result<protocol::CommitResult> SqliteMetadataStore::applyOp(
    AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head)
{
    switch (op.op) {
    case CommitOpKind::Put:
        return applyPut(account, origin, op, head);
    case CommitOpKind::Delete:
        return applyDelete(account, origin, op, head);
    case CommitOpKind::Move:
        return applyMove(account, origin, op, head);
    }
    return rejected(QStringLiteral("unknown operation"));
}

Result<QString> SqliteMetadataStore::ensureParents(
    AccountKey account, const QString &origin, const RelativePath &path, quint64 &head)
{
    QList<RelativePath> missing;
    for (RelativePath p = path.parent(); !p.isRoot(); p = p.parent()) {
        auto r = row(account, p);
        if (!r)
            return r.error();
        if (*r && (*r)->live()) {
            if ((*r)->kind == EntryKind::File)
                return QStringLiteral("a parent of %1 is a file").arg(path.toString());
            break;
        }
        missing.prepend(p);
    }
    for (const RelativePath &p : missing) {
        FileRow dir;
        dir.path = p;
        dir.kind = EntryKind::Directory;
        dir.version = ++head;
        dir.origin = origin;
        dir.mode = 0755;
        if (auto w = writeRow(account, dir); !w)
            return w.error();
    }
    return QString();
}

Result<protocol::CommitResult> SqliteMetadataStore::applyPut(
    AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head)
{
    auto existing = row(account, op.path);
    if (!existing)
        return existing.error();
    const std::optional<FileRow> &cur = *existing;
    const bool live = cur && cur->live();
    if (op.kind == EntryKind::Directory && live && cur->kind == EntryKind::Directory)
        return applied(cur->version); // already there: directories are idempotent
    if (live && cur->version != op.baseVersion)
        return conflict(cur->version);
    if (!live && op.baseVersion != 0 && (!cur || cur->version != op.baseVersion))
        return conflict(cur ? cur->version : 0);
    if (live && cur->kind == EntryKind::Directory) {
        auto children = liveDescendants(account, op.path);
        if (!children)
            return children.error();
        if (!children->isEmpty())
            return conflict(cur->version); // a folder with content is in the way
    }
    for (const BlockRef &b : op.blocks) {
        auto proven = isProvenBlock(account, b.hash);
        if (!proven)
            return proven.error();
        if (!*proven)
            return rejected(QStringLiteral("missing block %1").arg(b.hash.toString()));
    }
    auto parents = ensureParents(account, origin, op.path, head);
    if (!parents)
        return parents.error();
    if (!parents->isEmpty())
        return rejected(*parents);
    FileRow r;
    r.path = op.path;
    r.kind = op.kind;
    r.size = op.size;
    r.mtimeMs = op.mtimeMs;
    r.mode = op.mode;
    r.blocks = op.blocks;
    r.version = ++head;
    r.origin = origin;
    if (auto w = writeRow(account, r); !w)
        return w.error();
    return applied(r.version);
}

Result<protocol::CommitResult> SqliteMetadataStore::applyDelete(
    AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head)
{
    auto existing = row(account, op.path);
    if (!existing)
        return existing.error();
    const std::optional<FileRow> &cur = *existing;
    if (!cur || !cur->live())
        return applied(cur ? cur->version : 0); // already gone
    if (cur->version != op.baseVersion)
        return conflict(cur->version);
    if (cur->kind == EntryKind::Directory) {
        auto children = liveDescendants(account, op.path);
        if (!children)
            return children.error();
        if (!children->isEmpty())
            return conflict(cur->version); // somebody added something: an edit wins over a delete
    }
    FileRow r = *cur;
    r.deleted = true;
    r.size = 0;
    r.blocks.clear();
    r.movedFrom.clear();
    r.version = ++head;
    r.origin = origin;
    if (auto w = writeRow(account, r); !w)
        return w.error();
    return applied(r.version);
}

Result<protocol::CommitResult> SqliteMetadataStore::applyMove(
    AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head)
{
    Q_ASSERT(op.from);
    const RelativePath &from = *op.from;
    auto source = row(account, from);
    if (!source)
        return source.error();
    if (!*source || !(*source)->live())
        return conflict(*source ? (*source)->version : 0);
    const FileRow src = **source;
    if (src.version != op.baseVersion)
        return conflict(src.version);
    auto target = row(account, op.path);
    if (!target)
        return target.error();
    if (*target && (*target)->live())
        return conflict((*target)->version);
    auto parents = ensureParents(account, origin, op.path, head);
    if (!parents)
        return parents.error();
    if (!parents->isEmpty())
        return rejected(*parents);

    QList<FileRow> moving { src };
    if (src.kind == EntryKind::Directory) {
        auto children = liveDescendants(account, from);
        if (!children)
            return children.error();
        moving += *children;
    }
    quint64 movedVersion = 0;
    for (const FileRow &old : moving) {
        FileRow tomb = old;
        tomb.deleted = true;
        tomb.size = 0;
        tomb.blocks.clear();
        tomb.movedFrom.clear();
        tomb.version = ++head;
        tomb.origin = origin;
        if (auto w = writeRow(account, tomb); !w)
            return w.error();
        FileRow moved = old;
        moved.path = old.path.rebased(from, op.path);
        moved.movedFrom = old.path.toString();
        moved.version = ++head;
        moved.origin = origin;
        if (auto w = writeRow(account, moved); !w)
            return w.error();
        if (old.path == from)
            movedVersion = moved.version;
    }
    return applied(movedVersion);
}

} // namespace filesync
