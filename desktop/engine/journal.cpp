#include "journal.h"

#include "privatefiles.h"
#include "sqlitestatement.h"

#include <QDir>
#include <QFile>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <QVariant>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace filesync {

using namespace protocol;

namespace {
constexpr int kSchemaVersion = 1;

Error sqlError(const QSqlQuery &q)
{
    return makeError(QStringLiteral("journal error: %1").arg(q.lastError().text()));
}

// Whether the journal is new (no tables, no version: the schema is to be created), or
// of this build's schema; an error for any other, read without writing anything.
Result<bool> schemaToCreate(const QSqlDatabase &db, const QString &file)
{
    QSqlQuery q(db);
    if (!q.exec(QStringLiteral("PRAGMA user_version")) || !q.next())
        return sqlError(q);
    const int version = q.value(0).toInt();
    if (version == kSchemaVersion)
        return false;
    if (version == 0) {
        if (!q.exec(QStringLiteral("SELECT COUNT(*) FROM sqlite_master")) || !q.next())
            return sqlError(q);
        if (q.value(0).toInt() == 0)
            return true;
    }
    return makeError(QStringLiteral("the journal %1 has schema version %2, this FileSync reads only version %3: "
                                    "not opened, nothing changed")
                         .arg(file)
                         .arg(version)
                         .arg(kSchemaVersion));
}

QString statementError(const SqliteStatement &q)
{
    return QStringLiteral("journal error: %1").arg(q.errorMessage());
}

// Runs a write statement once and makes it ready for the next use (a statement left
// unreset would keep its transaction open).
bool runOnce(SqliteStatement &q, QString &error)
{
    q.next();
    const bool ok = q.isValid() && !q.failed();
    if (!ok)
        error = statementError(q);
    q.reset();
    return ok;
}

// `path` and everything under it: one run of keys in path order.
QList<RelativePath> subtree(const JournalState &entries, const RelativePath &path)
{
    QList<RelativePath> found;
    for (auto [it, end] = RelativePath::subtreeRun(entries, path); it != end; ++it)
        found << it.key();
    return found;
}
} // namespace

// The writes run per entry, prepared once per connection at open().
struct Journal::Statements
{
    explicit Statements(const QSqlDatabase &db)
        : put(db,
            "INSERT OR REPLACE INTO entries(path, kind, size, mtime, inode, mode, version, blocks, ctime, checks,"
            " read_after_ctime) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")
        , remove(db, "DELETE FROM entries WHERE path = ?1")
        , removeTree(db, "DELETE FROM entries WHERE path = ?1 OR (path > ?2 AND path < ?3)")
        // substr counts characters, as length() does
        , moveTree(db,
              "UPDATE entries SET path = ?1 || substr(path, length(?2) + 1) WHERE path = ?2 OR (path > ?3 AND path < "
              "?4)")
    { }
    QString error() const // of the first that could not be prepared; empty if none
    {
        for (const SqliteStatement *q : { &put, &remove, &removeTree, &moveTree }) {
            if (!q->isValid())
                return q->errorMessage();
        }
        return {};
    }

    SqliteStatement put;
    SqliteStatement remove;
    SqliteStatement removeTree;
    SqliteStatement moveTree;
};

QString Journal::metadataDir(const QString &folder)
{
    return folder + u'/' + RelativePath::kMetadataDirName;
}

localfs::Location Journal::tempFile(const QString &folder, const QString &tempPath)
{
    return localfs::Location::at(folder, tempDirRelative() + u'/' + tempPath.mid(tempPath.lastIndexOf(u'/') + 1));
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
    // Made beneath the folder: a link in place of the metadata folder or its temp
    // folder would send downloads, and the clean-up below, somewhere else.
    localfs::Dir tmp = localfs::makeDirs(m_folder, tempDirRelative());
    if (tmp.inTheWay())
        return makeError(QStringLiteral("cannot use %1: %2").arg(metadataDir(m_folder), tmp.problem()));
    if (!tmp)
        return makeError(QStringLiteral("cannot create %1").arg(metadataDir(m_folder)));
    // The journal holds the account ID and tmp/ the files being downloaded: the owner's
    // alone, and fixed here if an earlier run or the umask left them open to others.
    for (const QString &dir : { metadataDir(m_folder), tempDir(m_folder) }) {
        if (auto made = privatefiles::makeDir(dir); !made)
            return made;
    }
    if (auto prepared = privatefiles::prepareDatabase(path(m_folder)); !prepared)
        return makeError(QStringLiteral("cannot open the journal: %1").arg(prepared.errorMessage()));
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
    m_db.setDatabaseName(path(m_folder));
    if (!m_db.open())
        return makeError(QStringLiteral("cannot open the journal: %1").arg(m_db.lastError().text()));
    // The schema is checked before anything is written: a journal this build does not know
    // is left exactly as it is.
    const auto create = schemaToCreate(m_db, path(m_folder));
    if (!create)
        return create.error();
    // Downloads a crash interrupted: never at a final path, and of no use now.
    const int listFd = ::openat(tmp.fd(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (DIR *listing = listFd >= 0 ? ::fdopendir(listFd) : nullptr) {
        while (const dirent *entry = ::readdir(listing)) {
            if (entry->d_type != DT_DIR)
                ::unlinkat(tmp.fd(), entry->d_name, 0); // a link itself, never its target
        }
        ::closedir(listing);
    } else if (listFd >= 0) {
        ::close(listFd);
    }
    QSqlQuery q(m_db);
    for (const char *pragma : { "PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL" }) {
        if (!q.exec(QLatin1String(pragma)))
            return sqlError(q);
    }
    if (*create) {
        if (!m_db.transaction())
            return makeError(QStringLiteral("journal error: %1").arg(m_db.lastError().text()));
        for (const char *sql : {
                 "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                 "CREATE TABLE entries(path TEXT PRIMARY KEY, kind INTEGER NOT NULL, size INTEGER NOT NULL,"
                 " mtime INTEGER NOT NULL, inode INTEGER NOT NULL, mode INTEGER NOT NULL, version INTEGER NOT NULL,"
                 " blocks BLOB, ctime INTEGER NOT NULL DEFAULT 0, checks BLOB,"
                 " read_after_ctime INTEGER NOT NULL DEFAULT 0)",
                 "PRAGMA user_version=1",
             }) {
            if (!q.exec(QLatin1String(sql))) {
                const Error error = sqlError(q);
                m_db.rollback();
                return error;
            }
        }
        if (!m_db.commit())
            return makeError(QStringLiteral("journal error: %1").arg(m_db.lastError().text()));
    }
    m_statements = std::make_unique<Statements>(m_db);
    if (const QString error = m_statements->error(); !error.isEmpty()) {
        m_statements.reset();
        return makeError(QStringLiteral("journal error: %1").arg(error));
    }
    m_entries = readEntries();
    adoptLanded();
    if (hasFailed())
        return makeError(lastError());
    return {};
}

void Journal::close()
{
    m_statements.reset(); // finalized while their connection is open
    if (m_inBatch && m_db.isOpen())
        m_db.rollback(); // a batch never committed is not in the journal
    m_inBatch = false;
    m_batchFailed = false;
    m_pending.clear();
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
    if (!q.exec(QStringLiteral(
            "SELECT path, kind, size, mtime, inode, mode, version, blocks, ctime, checks, read_after_ctime"
            " FROM entries")))
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
        e.readAfterCtime = q.value(10).toLongLong() != 0;
        state.insert(*path, e);
    }
    return state;
}

bool Journal::canWrite()
{
    if (m_statements && !m_batchFailed)
        return true;
    fail(m_statements ? QStringLiteral("journal error: not written after a failed write in the batch")
                      : QStringLiteral("journal error: the journal is not open"));
    return false;
}

void Journal::fail(const QString &message)
{
    if (m_error.isEmpty())
        m_error = message; // the first failure is the one to report
    if (m_inBatch)
        m_batchFailed = true; // SQLite may have rolled the transaction back already
}

void Journal::applied(Change change)
{
    if (m_inBatch)
        m_pending.push_back(std::move(change));
    else
        apply(change);
}

void Journal::apply(const Change &c)
{
    switch (c.type) {
    case Change::Put:
        if (!c.path.isRoot())
            m_entries.insert(c.path, c.entry);
        break;
    case Change::Remove:
        m_entries.remove(c.path);
        break;
    case Change::RemoveTree:
        for (const RelativePath &p : subtree(m_entries, c.path))
            m_entries.remove(p);
        break;
    case Change::Clear:
        m_entries.clear();
        break;
    case Change::MoveTree: {
        JournalState moved;
        for (const RelativePath &p : subtree(m_entries, c.path))
            moved.insert(p.rebased(c.path, c.to), m_entries.take(p));
        for (auto it = moved.cbegin(); it != moved.cend(); ++it)
            m_entries.insert(it.key(), it.value());
        break;
    }
    }
}

void Journal::put(const RelativePath &path, const JournalEntry &e)
{
    if (!canWrite())
        return;
    SqliteStatement &q = m_statements->put;
    q.bind(1, path.toString());
    q.bind(2, qint64(e.kind));
    q.bind(3, e.size);
    q.bind(4, e.mtimeNs);
    q.bind(5, qint64(e.inode));
    q.bind(6, qint64(e.mode));
    q.bind(7, qint64(e.version));
    q.bind(8, packBlockList(e.blocks));
    q.bind(9, e.ctimeNs);
    q.bind(10, e.blockChecks);
    q.bind(11, qint64(e.readAfterCtime ? 1 : 0));
    QString error;
    if (!runOnce(q, error))
        return fail(error);
    applied(Change { Change::Put, path, {}, e });
}

void Journal::remove(const RelativePath &path)
{
    if (!canWrite())
        return;
    SqliteStatement &q = m_statements->remove;
    q.bind(1, path.toString());
    QString error;
    if (!runOnce(q, error))
        return fail(error);
    applied(Change { Change::Remove, path, {}, {} });
}

void Journal::removeTree(const RelativePath &path)
{
    removeTreeRows(path);
}

bool Journal::removeTreeRows(const RelativePath &path)
{
    if (!canWrite())
        return false;
    SqliteStatement &q = m_statements->removeTree;
    const auto [below, above] = path.descendantBounds();
    q.bind(1, path.toString());
    q.bind(2, below);
    q.bind(3, above);
    QString error;
    if (!runOnce(q, error)) {
        fail(error);
        return false;
    }
    applied(Change { Change::RemoveTree, path, {}, {} });
    return true;
}

void Journal::clearEntries()
{
    if (!canWrite())
        return;
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("DELETE FROM entries")))
        return fail(sqlError(q).message);
    applied(Change { Change::Clear, {}, {}, {} });
}

void Journal::moveTree(const RelativePath &from, const RelativePath &to)
{
    if (!removeTreeRows(to))
        return; // recorded
    SqliteStatement &q = m_statements->moveTree;
    q.bind(1, to.toString());
    const auto [below, above] = from.descendantBounds();
    q.bind(2, from.toString());
    q.bind(3, below);
    q.bind(4, above);
    QString error;
    if (!runOnce(q, error))
        return fail(error);
    applied(Change { Change::MoveTree, from, to, {} });
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
    if (!canWrite())
        return;
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)"));
    q.addBindValue(key);
    q.addBindValue(value.isNull() ? QStringLiteral("") : value); // a null QString binds as NULL
    if (!q.exec())
        fail(sqlError(q).message);
}

void Journal::removeValue(const QString &key)
{
    if (!canWrite())
        return;
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("DELETE FROM meta WHERE key = ?"));
    q.addBindValue(key);
    if (!q.exec())
        fail(sqlError(q).message);
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
    if (m_inBatch || !m_statements)
        return false; // not nested: the writes belong to the batch already open
    // Without a transaction the writes still go, each on its own (as they did before
    // batches); the first failure is recorded either way.
    m_inBatch = m_db.transaction();
    m_batchFailed = false;
    return m_inBatch;
}

bool Journal::commit()
{
    if (!m_inBatch)
        return false;
    m_inBatch = false;
    std::vector<Change> pending = std::exchange(m_pending, {});
    if (m_batchFailed) {
        m_batchFailed = false;
        m_db.rollback(); // may fail when SQLite rolled back already: nothing is left either way
        return false;
    }
    if (!m_db.commit()) {
        fail(QStringLiteral("journal error: %1").arg(m_db.lastError().text()));
        m_db.rollback();
        return false;
    }
    for (const Change &c : pending)
        apply(c);
    return true;
}

RelativePath Journal::knownFolderAbove(const RelativePath &path) const
{
    RelativePath p = path.parent();
    while (!p.isRoot() && !m_entries.contains(p))
        p = p.parent();
    return p;
}

} // namespace filesync
