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
    Result<bool> hasLiveDescendants(AccountKey account, const RelativePath &dir);
    // How many live entries are under `dir`, counting no further than `atMost`.
    Result<qint64> countLiveDescendants(AccountKey account, const RelativePath &dir, qint64 atMost);
    // The longest path (in UTF-8 bytes) of a live entry under `dir`, if any.
    Result<std::optional<QString>> longestLiveDescendant(AccountKey account, const RelativePath &dir);
    // Moves every live entry under `from` to the same place under `to` as a tombstone
    // and a new row each, the n-th in path order (from 0) at versions firstVersion + 2n and
    // + 2n + 1, as writing them one by one would; in two statements, so that a big folder
    // holds the event thread briefly. `to`'s subtree must be disjoint from `from`'s.
    // Returns how many entries moved.
    Result<qint64> moveLiveDescendants(AccountKey account, const RelativePath &from, const RelativePath &to,
        quint64 firstVersion, const QString &origin);
    // Inserts or replaces the row of (account, row.path).
    Result<void> write(AccountKey account, const FileRow &row);
    // Rows with version > since in version order, at most `limit`.
    Result<QList<FileRow>> changedSince(AccountKey account, quint64 since, int limit);

private:
    QSqlDatabase m_db;
    // The statements of every op of a commit (SqliteStatement says why not QSqlQuery).
    SqliteStatement m_find;
    SqliteStatement m_write;
    // Every GetChanges page (read while other sessions commit).
    SqliteStatement m_changedSince;
    // A folder move's descendants (moveLiveDescendants).
    SqliteStatement m_moveRows;
    SqliteStatement m_moveTombstones;
};

// Logs a failed statement (never its bound values) and turns it into an Error.
Error sqlError(const QSqlQuery &query);
Error sqlError(const SqliteStatement &statement);

} // namespace filesync
