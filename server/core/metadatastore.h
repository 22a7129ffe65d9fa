#pragma once

#include "messages.h"
#include "result.h"

#include <QByteArray>
#include <QList>
#include <QString>

#include <functional>
#include <optional>

namespace filesync {

using AccountKey = qint64; // the store's internal account number, never the secret ID

// Everything the server knows about accounts, sessions, files and who may see which
// block. An interface, so that a PostgreSQL implementation can follow for multi-server
// deployments; SqliteMetadataStore is the embedded default. Used on the server's event
// thread; owned by SyncServer.
class MetadataStore
{
public:
    virtual ~MetadataStore() = default;

    virtual Result<void> open() = 0;
    virtual void close() = 0;

    struct AccountRecord
    {
        AccountKey key = 0;
        QByteArray idHash; // as stored, for a constant-time comparison by the caller
    };
    virtual Result<AccountKey> createAccount(const QByteArray &idHash) = 0;
    virtual Result<std::optional<AccountRecord>> findAccount(const QByteArray &idHash) = 0;
    virtual Result<qint64> accountCount() = 0;
    virtual Result<quint64> head(AccountKey account) = 0;

    // Current state of every path whose version is above `since`, in version order, one
    // entry per path, within `limit` entries and about `byteBudget` encoded bytes.
    virtual Result<protocol::Changes> changesSince(AccountKey account, quint64 since, int limit, qint64 byteBudget) = 0;

    // Of `hashes`, those the account has not proven it holds (uploaded or referenced).
    virtual Result<QList<ContentHash>> unprovenBlocks(AccountKey account, const QList<ContentHash> &hashes) = 0;
    // Records that the account proved it holds each of `hashes`: all or none.
    virtual Result<void> recordProvenBlocks(AccountKey account, const QList<ContentHash> &hashes) = 0;
    Result<void> recordProvenBlock(AccountKey account, const ContentHash &hash)
    {
        return recordProvenBlocks(account, { hash });
    }
    virtual Result<bool> isProvenBlock(AccountKey account, const ContentHash &hash) = 0;

    // Tells whether the server holds a block's bytes (the BlockStore's business).
    using BlockExists = std::function<bool(const ContentHash &)>;
    // Applies the ops in order, each on its own (optimistic: a stale base is a conflict),
    // in one transaction. `origin` is the committing session's name. A put may reference
    // a block only if the account has proven it and `blockExists` says it is stored.
    virtual Result<protocol::CommitReply> commit(
        AccountKey account, const QString &origin, const QList<protocol::CommitOp> &ops, const BlockExists &blockExists)
        = 0;
};

} // namespace filesync
