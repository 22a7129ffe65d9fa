#include "journal.h"

#include <QDir>
#include <QFile>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <QVariant>

namespace filesync {

using namespace protocol;

namespace {
constexpr int kSchemaVersion = 3;

Error sqlError(const QSqlQuery &q)
{
    return makeError(QStringLiteral("journal error: %1").arg(q.lastError().text()));
}

// `path` and everything under it. Paths sort as strings, so the subtree lies between
// `path` and `path + '0'` ('0' follows '/'), mixed with siblings like "a b" or "a.txt".
QList<RelativePath> subtree(const JournalState &entries, const RelativePath &path)
{
    QList<RelativePath> found;
    const QString end = path.toString() + u'0';
    for (auto it = entries.lowerBound(path); it != entries.cend() && it.key().toString() < end; ++it) {
        if (it.key() == path || path.isAncestorOf(it.key()))
            found << it.key();
    }
    return found;
}
} // namespace

QString Journal::metadataDir(const QString &folder)
{
    return folder + u'/' + RelativePath::kMetadataDirName;
}

QString Journal::path(const QString &folder)
{
    return metadataDir(folder) + QStringLiteral("/journal.db");
}

Journal::Journal(const QString &folder)
    : m_folder(folder)
    , m_connection(QStringLiteral("filesync-journal-") + QUuid::createUuid().toString(QUuid::WithoutBraces))
{ }

Journal::~Journal()
{
    close();
}

Result<void> Journal::open()
{
    const QString tmp = metadataDir(m_folder) + QStringLiteral("/tmp");
    if (!QDir().mkpath(tmp))
        return makeError(QStringLiteral("cannot create %1").arg(metadataDir(m_folder)));
    // Downloads a crash interrupted: never at a final path, and of no use now.
    const QStringList leftovers = QDir(tmp).entryList(QDir::Files | QDir::Hidden);
    for (const QString &name : leftovers)
        QFile::remove(tmp + u'/' + name);
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
    m_db.setDatabaseName(path(m_folder));
    if (!m_db.open())
        return makeError(QStringLiteral("cannot open the journal: %1").arg(m_db.lastError().text()));
    QSqlQuery q(m_db);
    for (const char *pragma : { "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL" }) {
        if (!q.exec(QLatin1String(pragma)))
            return sqlError(q);
    }
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return sqlError(q);
    const int version = q.value(0).toInt();
    if (version > kSchemaVersion)
        return makeError(QStringLiteral("the journal is from another FileSync version (schema %1)").arg(version));
    if (version == 0) {
        for (const char *sql : {
                 "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                 "CREATE TABLE entries(path TEXT PRIMARY KEY, kind INTEGER NOT NULL, size INTEGER NOT NULL,"
                 " mtime INTEGER NOT NULL, inode INTEGER NOT NULL, mode INTEGER NOT NULL, version INTEGER NOT NULL,"
                 " blocks BLOB)",
                 "PRAGMA user_version=1",
             }) {
            if (!q.exec(QLatin1String(sql)))
                return sqlError(q);
        }
    }
    if (version < 2) {
        // Schema 2: the ctime seen when the stat was recorded (0 for older rows: they
        // stay under the scanner's racy rule).
        for (const char *sql :
            { "ALTER TABLE entries ADD COLUMN ctime INTEGER NOT NULL DEFAULT 0", "PRAGMA user_version=2" }) {
            if (!q.exec(QLatin1String(sql)))
                return sqlError(q);
        }
    }
    if (version < 3) {
        // Schema 3: the blocks' checks (Chunker::Chunked::checks), NULL for older rows:
        // their next change is chunked whole once, as before, and recorded with checks.
        for (const char *sql : { "ALTER TABLE entries ADD COLUMN checks BLOB", "PRAGMA user_version=3" }) {
            if (!q.exec(QLatin1String(sql)))
                return sqlError(q);
        }
    }
    m_entries = readEntries();
    return {};
}

void Journal::close()
{
    if (m_db.isValid()) {
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connection);
    }
}

bool Journal::isOpen() const
{
    return m_db.isValid() && m_db.isOpen();
}

JournalState Journal::readEntries() const
{
    JournalState state;
    QSqlQuery q(m_db);
    q.setForwardOnly(true);
    if (!q.exec(
            QStringLiteral("SELECT path, kind, size, mtime, inode, mode, version, blocks, ctime, checks FROM entries")))
        return state;
    while (q.next()) {
        auto path = RelativePath::fromString(q.value(0).toString());
        if (!path || path->isRoot())
            continue;
        JournalEntry e;
        e.kind = EntryKind(q.value(1).toInt());
        e.size = q.value(2).toLongLong();
        e.mtimeNs = q.value(3).toLongLong();
        e.inode = quint64(q.value(4).toLongLong());
        e.mode = quint32(q.value(5).toLongLong());
        e.version = quint64(q.value(6).toLongLong());
        e.blocks = unpackBlockList(q.value(7).toByteArray());
        e.ctimeNs = q.value(8).toLongLong();
        e.blockChecks = q.value(9).toByteArray();
        state.insert(*path, e);
    }
    return state;
}

void Journal::put(const RelativePath &path, const JournalEntry &e)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO entries(path, kind, size, mtime, inode, mode, version, blocks, "
                             "ctime, checks) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    q.addBindValue(path.toString());
    q.addBindValue(int(e.kind));
    q.addBindValue(e.size);
    q.addBindValue(e.mtimeNs);
    q.addBindValue(qint64(e.inode));
    q.addBindValue(qint64(e.mode));
    q.addBindValue(qint64(e.version));
    q.addBindValue(packBlockList(e.blocks));
    q.addBindValue(e.ctimeNs);
    q.addBindValue(e.blockChecks);
    if (!q.exec())
        m_error = sqlError(q).message;
    else if (!path.isRoot())
        m_entries.insert(path, e);
}

void Journal::remove(const RelativePath &path)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("DELETE FROM entries WHERE path = ?"));
    q.addBindValue(path.toString());
    if (!q.exec())
        m_error = sqlError(q).message;
    else
        m_entries.remove(path);
}

void Journal::removeTree(const RelativePath &path)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("DELETE FROM entries WHERE path = ? OR (path > ? AND path < ?)"));
    q.addBindValue(path.toString());
    q.addBindValue(QString(path.toString() + u'/'));
    q.addBindValue(QString(path.toString() + u'0')); // '0' follows '/'
    if (!q.exec()) {
        m_error = sqlError(q).message;
        return;
    }
    for (const RelativePath &p : subtree(m_entries, path))
        m_entries.remove(p);
}

void Journal::clearEntries()
{
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("DELETE FROM entries")))
        m_error = sqlError(q).message;
    else
        m_entries.clear();
}

void Journal::moveTree(const RelativePath &from, const RelativePath &to)
{
    removeTree(to);
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral(
        "UPDATE entries SET path = ? || substr(path, length(?) + 1) WHERE path = ? OR (path > ? AND path < ?)"));
    q.addBindValue(to.toString());
    q.addBindValue(from.toString()); // substr counts characters, as length() does
    q.addBindValue(from.toString());
    q.addBindValue(QString(from.toString() + u'/'));
    q.addBindValue(QString(from.toString() + u'0'));
    if (!q.exec()) {
        m_error = sqlError(q).message;
        return;
    }
    JournalState moved;
    for (const RelativePath &p : subtree(m_entries, from))
        moved.insert(p.rebased(from, to), m_entries.take(p));
    for (auto it = moved.cbegin(); it != moved.cend(); ++it)
        m_entries.insert(it.key(), it.value());
}

QString Journal::value(const QString &key) const
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT value FROM meta WHERE key = ?"));
    q.addBindValue(key);
    if (!q.exec() || !q.next())
        return {};
    return q.value(0).toString();
}

void Journal::setValue(const QString &key, const QString &value)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
    q.addBindValue(key);
    q.addBindValue(value.isNull() ? QStringLiteral("") : value); // a null QString binds as NULL
    if (!q.exec())
        m_error = sqlError(q).message;
}

void Journal::removeValue(const QString &key)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("DELETE FROM meta WHERE key = ?"));
    q.addBindValue(key);
    if (!q.exec())
        m_error = sqlError(q).message;
}

quint64 Journal::cursor() const
{
    return value(QStringLiteral("cursor")).toULongLong();
}

void Journal::setCursor(quint64 cursor)
{
    setValue(QStringLiteral("cursor"), QString::number(cursor));
}

bool Journal::begin()
{
    return m_db.transaction();
}

bool Journal::commit()
{
    return m_db.commit();
}

} // namespace filesync
