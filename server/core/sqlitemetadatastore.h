#pragma once

#include "metadatastore.h"

#include <QSqlDatabase>

namespace filesync {

struct FileRow;

// MetadataStore on SQLite through QtSql: DATA/metadata.db, WAL, synchronous=NORMAL
// (a crash may lose the last commits, never corrupt the database), schema versioned
// with PRAGMA user_version. One connection, on the server's event thread.
class SqliteMetadataStore : public MetadataStore
{
public:
    explicit SqliteMetadataStore(const QString &databasePath);
    ~SqliteMetadataStore() override;

    Result<void> open() override;
    void close() override;

    Result<AccountKey> createAccount(const QByteArray &idHash) override;
    Result<std::optional<AccountKey>> findAccount(const QByteArray &idHash) override;
    Result<qint64> accountCount() override;
    Result<qint64> createSession(AccountKey account, const QString &name) override;
    Result<quint64> head(AccountKey account) override;
    Result<protocol::Changes> changesSince(AccountKey account, quint64 since, int limit, qint64 byteBudget) override;
    Result<QList<ContentHash>> unprovenBlocks(AccountKey account, const QList<ContentHash> &hashes) override;
    Result<void> recordProvenBlock(AccountKey account, const ContentHash &hash) override;
    Result<bool> isProvenBlock(AccountKey account, const ContentHash &hash) override;
    Result<protocol::CommitReply> commit(
        AccountKey account, const QString &origin, const QList<protocol::CommitOp> &ops) override;

private:
    class Transaction;
    Result<void> migrate();
    Result<std::optional<FileRow>> row(AccountKey account, const RelativePath &path);
    Result<QList<FileRow>> liveDescendants(AccountKey account, const RelativePath &dir);
    Result<void> writeRow(AccountKey account, const FileRow &row);
    Result<protocol::CommitResult> applyOp(
        AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head);
    Result<protocol::CommitResult> applyPut(
        AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head);
    Result<protocol::CommitResult> applyDelete(
        AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head);
    Result<protocol::CommitResult> applyMove(
        AccountKey account, const QString &origin, const protocol::CommitOp &op, quint64 &head);
    // Creates missing parent directories; Rejected (as a reason) when a parent is a file.
    Result<QString> ensureParents(AccountKey account, const QString &origin, const RelativePath &path, quint64 &head);

    QString m_path;
    QString m_connectionName;
    QSqlDatabase m_db;
};

} // namespace filesync
