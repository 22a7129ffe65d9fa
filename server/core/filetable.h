#pragma once

#include "metadatastore.h"
#include "sqlitestatement.h"

#include <QSqlDatabase>
#include <QSqlQuery>

namespace filesync {

// One row of the files table: the current state of a path of an account (possibly a
// tombstone). `version` is the account sequence number of the change that produced it.
struct FileRow
{
    RelativePath path;
    protocol::EntryKind kind = protocol::EntryKind::File;
    bool deleted = false;
    qint64 size = 0;
    qint64 mtimeMs = 0;
    quint32 mode = 0;
    QList<protocol::BlockRef> blocks;
    quint64 version = 0;
    QString origin;
    QString movedFrom; // empty unless this state was produced by a move

    bool live() const { return !deleted; }
    bool isDirectory() const { return kind == protocol::EntryKind::Directory; }
    protocol::FileEntry toEntry() const;
    // A generous estimate of the entry's CBOR size, to keep replies under the budget.
    qint64 estimatedWireSize() const;
};

// Row-level access to the `files` table of a SqliteMetadataStore's connection, with the
// statements prepared once. Knows nothing of the commit rules (CommitApplier does).
// Server event thread; owned by SqliteMetadataStore, never outlives its connection.
class FileTable
{
public:
    explicit FileTable(const QSqlDatabase &db);

    static QByteArray encodeBlocks(const QList<protocol::BlockRef> &blocks);
    static QList<protocol::BlockRef> decodeBlocks(const QByteArray &bytes);

    Result<std::optional<FileRow>> find(AccountKey account, const RelativePath &path);
    // Live entries strictly under `dir`, in path order.
    Result<QList<FileRow>> liveDescendants(AccountKey account, const RelativePath &dir);
    Result<bool> hasLiveDescendants(AccountKey account, const RelativePath &dir);
    // How many live entries are under `dir`, counting no further than `atMost`.
    Result<qint64> countLiveDescendants(AccountKey account, const RelativePath &dir, qint64 atMost);
    // Inserts or replaces the row of (account, row.path).
    Result<void> write(AccountKey account, const FileRow &row);
    // Rows with version > since in version order, at most `limit`.
    Result<QList<FileRow>> changedSince(AccountKey account, quint64 since, int limit);

private:
    QSqlDatabase m_db;
    // The statements of every op of a commit (SqliteStatement says why not QSqlQuery).
    SqliteStatement m_find;
    SqliteStatement m_write;
    // Every GetChanges page (W2: B reads 20,000 rows in pages while A commits).
    SqliteStatement m_changedSince;
};

// Logs a failed statement (never its bound values) and turns it into an Error.
Error sqlError(const QSqlQuery &query);
Error sqlError(const SqliteStatement &statement);

} // namespace filesync
