#pragma once

#include "metadatastore.h"
#include "sqlitestatement.h"

#include <QSqlDatabase>
#include <QSqlQuery>

#include <memory>

namespace filesync {

class FileTable;

// MetadataStore on SQLite through QtSql: DATA/metadata.db, WAL, synchronous=NORMAL
// (a crash may lose the last commits, never corrupt the database), schema version in
// PRAGMA user_version: a database of another version is refused untouched. Tables: accounts (hash of the ID, head
// sequence), files (one row per path and account: its latest state, tombstones kept; UNIQUE (account, path), indexed by
// (account, version)), account_blocks (blocks an account has proven). One connection, on the server's event thread;
// owned by SyncServer.
class SqliteMetadataStore : public MetadataStore
{
public:
    static constexpr int kSchemaVersion = 1;

    explicit SqliteMetadataStore(const QString &databasePath);
    ~SqliteMetadataStore() override;

    Result<void> open() override;
    void close() override;

    Result<AccountKey> createAccount(const QByteArray &idHash) override;
    Result<std::optional<AccountRecord>> findAccount(const QByteArray &idHash) override;
    Result<qint64> accountCount() override;
    Result<quint64> head(AccountKey account) override;
    Result<protocol::Changes> changesSince(AccountKey account, quint64 since, int limit, qint64 byteBudget) override;
    Result<QList<ContentHash>> unprovenBlocks(AccountKey account, const QList<ContentHash> &hashes) override;
    // One transaction and one prepared statement for the whole list.
    Result<void> recordProvenBlocks(AccountKey account, const QList<ContentHash> &hashes) override;
    Result<bool> isProvenBlock(AccountKey account, const ContentHash &hash) override;
    Result<protocol::CommitReply> commit(AccountKey account, const QString &origin,
        const QList<protocol::CommitOp> &ops, const BlockExists &blockExists) override;

private:
    class Transaction;
    // Whether the database is new (no tables, no version) and needs the schema, or has
    // this one's; an error for any other. Reads only.
    Result<bool> schemaToCreate();
    Result<void> createSchema();

    QString m_path;
    QString m_connectionName;
    QSqlDatabase m_db;
    std::unique_ptr<FileTable> m_files;
    // Prepared once: asked for every block of every commit and every QueryBlocks hash.
    std::unique_ptr<SqliteStatement> m_provenQuery; // per hashed block: not QSqlQuery
    std::unique_ptr<SqliteStatement> m_recordProof;
};

} // namespace filesync
