#include "sqlitemetadatastore.h"

#include "commitapplier.h"
#include "filetable.h"
#include "privatefiles.h"
#include "serverlogging.h"

#include <QDateTime>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>
#include <QVariant>

namespace filesync {

using namespace protocol;

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
    Transaction(const Transaction &) = delete;
    Transaction &operator=(const Transaction &) = delete;
    bool isOpen() const { return m_open; }
    bool commit()
    {
        m_open = false;
        if (m_db.commit())
            return true;
        m_db.rollback();
        return false;
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
    Q_ASSERT(!m_db.isValid());
    // Accounts' ID hashes and every file's name: the owner's alone, whatever the umask.
    if (auto prepared = privatefiles::prepareDatabase(m_path); !prepared)
        return makeError(
            QStringLiteral("cannot open the metadata database %1: %2").arg(m_path, prepared.errorMessage()));
    m_db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connectionName);
    m_db.setDatabaseName(m_path);
    if (!m_db.open()) {
        const QString reason = m_db.lastError().text();
        close();
        return makeError(QStringLiteral("cannot open the metadata database %1: %2").arg(m_path, reason));
    }
    auto prepared = [this]() -> Result<void> {
        // Checked before anything is written: a database of another schema is left as it is.
        const auto create = schemaToCreate();
        if (!create)
            return create.error();
        QSqlQuery q(m_db);
        // WAL needs a writable directory: asking for it is also the check that it is one.
        if (!q.exec(QStringLiteral("PRAGMA journal_mode=WAL")) || !q.next())
            return sqlError(q);
        if (q.value(0).toString().compare(QLatin1String("wal"), Qt::CaseInsensitive) != 0)
            return makeError(QStringLiteral("the metadata database %1 cannot use WAL mode (is its directory writable?)")
                                 .arg(m_path));
        for (const char *pragma :
            { "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=5000" }) {
            if (!q.exec(QLatin1String(pragma)))
                return sqlError(q);
        }
        return *create ? createSchema() : Result<void>();
    }();
    if (!prepared) {
        close();
        return prepared;
    }
    m_files = std::make_unique<FileTable>(m_db);
    m_provenQuery
        = std::make_unique<SqliteStatement>(m_db, "SELECT 1 FROM account_blocks WHERE account = ?1 AND hash = ?2");
    m_recordProof
        = std::make_unique<SqliteStatement>(m_db, "INSERT OR IGNORE INTO account_blocks(account, hash) VALUES(?1, ?2)");
    if (!m_provenQuery->isValid() || !m_recordProof->isValid()) {
        const QString reason = m_provenQuery->isValid() ? m_recordProof->errorMessage() : m_provenQuery->errorMessage();
        close();
        return makeError(QStringLiteral("cannot prepare the metadata statements in %1: %2").arg(m_path, reason));
    }
    return {};
}

void SqliteMetadataStore::close()
{
    m_files.reset(); // its prepared statements first
    m_provenQuery.reset();
    m_recordProof.reset();
    if (m_db.isValid()) {
        m_db.close();
        m_db = QSqlDatabase();
        QSqlDatabase::removeDatabase(m_connectionName);
    }
}

Result<bool> SqliteMetadataStore::schemaToCreate()
{
    QSqlQuery q(m_db);
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
    return makeError(QStringLiteral("the metadata database %1 has schema version %2, this filesync-server reads only "
                                    "version %3: not started, nothing changed")
                         .arg(m_path)
                         .arg(version)
                         .arg(kSchemaVersion));
}

Result<void> SqliteMetadataStore::createSchema()
{
    QSqlQuery q(m_db);
    Transaction tx(m_db);
    const char *statements[] = {
        "CREATE TABLE accounts(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, head INTEGER NOT NULL DEFAULT 0,"
        " created INTEGER NOT NULL)",
        "CREATE TABLE files(account INTEGER NOT NULL REFERENCES accounts(id), path TEXT NOT NULL,"
        " kind INTEGER NOT NULL, deleted INTEGER NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,"
        " mode INTEGER NOT NULL, blocks BLOB, version INTEGER NOT NULL, origin TEXT NOT NULL,"
        " moved_from TEXT, PRIMARY KEY(account, path)) WITHOUT ROWID",
        "CREATE INDEX files_by_version ON files(account, version)",
        "CREATE TABLE account_blocks(account INTEGER NOT NULL REFERENCES accounts(id), hash BLOB NOT NULL,"
        " PRIMARY KEY(account, hash)) WITHOUT ROWID",
    };
    for (const char *statement : statements) {
        if (!q.exec(QLatin1String(statement)))
            return sqlError(q);
    }
    if (!q.exec(QStringLiteral("PRAGMA user_version=%1").arg(kSchemaVersion)))
        return sqlError(q);
    if (!tx.commit())
        return makeError(QStringLiteral("cannot create the metadata schema in %1").arg(m_path));
    qCInfo(lcMetadata) << "created the metadata schema, version" << kSchemaVersion;
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

Result<std::optional<MetadataStore::AccountRecord>> SqliteMetadataStore::findAccount(const QByteArray &idHash)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT id, hash FROM accounts WHERE hash = ?"));
    q.addBindValue(idHash);
    if (!q.exec())
        return sqlError(q);
    if (!q.next())
        return std::optional<AccountRecord>();
    return std::optional<AccountRecord>(AccountRecord { q.value(0).toLongLong(), q.value(1).toByteArray() });
}

Result<qint64> SqliteMetadataStore::accountCount()
{
    QSqlQuery q(m_db);
    if (!q.exec(QStringLiteral("SELECT COUNT(*) FROM accounts")) || !q.next())
        return sqlError(q);
    return q.value(0).toLongLong();
}

Result<quint64> SqliteMetadataStore::head(AccountKey account)
{
    QSqlQuery q(m_db);
    q.prepare(QStringLiteral("SELECT head FROM accounts WHERE id = ?"));
    q.addBindValue(account);
    if (!q.exec())
        return sqlError(q);
    if (!q.next())
        return makeError(QStringLiteral("no account %1 in the database").arg(account));
    return quint64(q.value(0).toLongLong());
}

Result<Changes> SqliteMetadataStore::changesSince(AccountKey account, quint64 since, int limit, qint64 byteBudget)
{
    Q_ASSERT(limit > 0);
    auto currentHead = head(account);
    if (!currentHead)
        return currentHead.error();
    auto rows = m_files->changedSince(account, since, limit + 1); // one more tells whether there is more
    if (!rows)
        return rows.error();
    Changes changes;
    changes.head = *currentHead;
    qint64 bytes = 64; // the envelope and the other fields
    for (const FileRow &r : std::as_const(*rows)) {
        const qint64 size = r.estimatedWireSize();
        // The first entry always goes (a single entry is far below the budget).
        if (changes.entries.size() >= limit || (!changes.entries.isEmpty() && bytes + size > byteBudget)) {
            changes.more = true;
            break;
        }
        bytes += size;
        changes.entries.append(r.toEntry());
        changes.next = r.version;
    }
    if (!changes.more) // everything up to head is in: the client may jump there
        changes.next = qMax(changes.head, since);
    return changes;
}

Result<QList<ContentHash>> SqliteMetadataStore::unprovenBlocks(AccountKey account, const QList<ContentHash> &hashes)
{
    QList<ContentHash> missing;
    SqliteStatement &q = *m_provenQuery;
    for (const ContentHash &h : hashes) {
        q.bind(1, qint64(account));
        q.bind(2, h.bytes());
        const bool found = q.next();
        if (q.failed()) {
            const Error error = sqlError(q);
            q.reset();
            return error;
        }
        q.reset();
        if (!found)
            missing.append(h);
    }
    return missing;
}

Result<void> SqliteMetadataStore::recordProvenBlocks(AccountKey account, const QList<ContentHash> &hashes)
{
    if (hashes.isEmpty())
        return {};
    Transaction tx(m_db);
    if (!tx.isOpen())
        return makeError(QStringLiteral("cannot start a database transaction: %1").arg(m_db.lastError().text()));
    SqliteStatement &q = *m_recordProof;
    for (const ContentHash &hash : hashes) {
        q.bind(1, qint64(account));
        q.bind(2, hash.bytes());
        (void)q.next();
        if (q.failed()) {
            const Error error = sqlError(q);
            q.reset();
            return error;
        }
        q.reset();
    }
    if (!tx.commit())
        return makeError(QStringLiteral("cannot record uploaded blocks: %1").arg(m_db.lastError().text()));
    return {};
}

Result<bool> SqliteMetadataStore::isProvenBlock(AccountKey account, const ContentHash &hash)
{
    auto missing = unprovenBlocks(account, { hash });
    if (!missing)
        return missing.error();
    return missing->isEmpty();
}

Result<CommitReply> SqliteMetadataStore::commit(
    AccountKey account, const QString &origin, const QList<CommitOp> &ops, const BlockExists &blockExists)
{
    Transaction tx(m_db);
    if (!tx.isOpen())
        return makeError(QStringLiteral("cannot start a database transaction: %1").arg(m_db.lastError().text()));
    auto startHead = head(account);
    if (!startHead)
        return startHead.error();
    CommitApplier applier(
        *m_files, account, origin, *startHead, [this, account, &blockExists](const ContentHash &h) -> Result<bool> {
            auto proven = isProvenBlock(account, h);
            if (!proven || !*proven)
                return proven;
            return blockExists(h);
        });
    CommitReply reply;
    reply.results.reserve(ops.size());
    for (const CommitOp &op : ops) {
        auto result = applier.apply(op);
        if (!result)
            return result.error(); // a storage failure: everything rolls back
        reply.results.append(*result);
    }
    if (applier.head() != *startHead) {
        QSqlQuery q(m_db);
        q.prepare(QStringLiteral("UPDATE accounts SET head = ? WHERE id = ?"));
        q.addBindValue(qint64(applier.head()));
        q.addBindValue(account);
        if (!q.exec())
            return sqlError(q);
    }
    if (!tx.commit())
        return makeError(QStringLiteral("cannot commit the database transaction: %1").arg(m_db.lastError().text()));
    reply.head = applier.head();
    reply.prev = *startHead;
    return reply;
}

} // namespace filesync
