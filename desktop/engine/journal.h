#pragma once

#include "localentry.h"
#include "localfs.h"
#include "result.h"

#include <QCborArray>
#include <QCborMap>
#include <QSqlDatabase>

#include <memory>
#include <vector>

namespace filesync {

// The last-synced state of every path plus the folder's settings (server, account,
// session, feed cursor), in SQLite at <folder>/.filesync/journal.db. Written on the
// engine's thread after each finished action, so a crash at any point leaves a journal
// that describes what is really on disk and on the server (at worst a little behind,
// which the next cycle repairs without loss). The entries are also kept in memory, and
// every write updates both: the in-memory copy only once SQLite has the write (inside
// begin()/commit(), once the transaction is committed). Owned by SyncEngine.
class Journal
{
public:
    static QString metadataDir(const QString &folder); // <folder>/.filesync
    // Where downloads and prefetches are written before their rename; open() empties it.
    static QString tempDir(const QString &folder) { return folder + u'/' + tempDirRelative(); }
    static QString tempDirRelative() { return RelativePath::kMetadataDirName + QStringLiteral("/tmp"); }
    // A temp file (by its path in tempDir()), reached beneath the folder (localfs).
    static localfs::Location tempFile(const QString &folder, const QString &tempPath);
    static QString path(const QString &folder);

    explicit Journal(const QString &folder);
    ~Journal();
    Journal(const Journal &) = delete;
    Journal &operator=(const Journal &) = delete;

    Result<void> open(); // creates the metadata dir and schema when missing
    void close();
    bool isOpen() const;

    // The entries as last written: an in-memory copy kept with every write (loaded once
    // at open), so a cycle gets it without reading SQLite; cheap to copy (shared).
    JournalState load() const { return m_entries; }
    // The deepest folder above `path` that the journal knows (the root when none): it was
    // on the disk when last synced, so a write below it that finds it gone makes it again
    // only when the plan says so (see SyncPlan::missingFolders).
    RelativePath knownFolderAbove(const RelativePath &path) const;
    void put(const RelativePath &path, const JournalEntry &entry);
    void remove(const RelativePath &path);
    void removeTree(const RelativePath &path); // the path and everything under it
    void clearEntries(); // forgets every path (a new account)
    void moveTree(const RelativePath &from, const RelativePath &to); // keeps versions

    QString value(const QString &key) const;
    void setValue(const QString &key, const QString &value);
    void removeValue(const QString &key);
    quint64 cursor() const;
    void setCursor(quint64 cursor);

    // The puts of the Commit in flight, written before it is sent and dropped with its
    // answer: after a crash in between, the next cycle knows the server's rows that match
    // one (same content and mode) as its own upload, not as somebody else's new file.
    // Each entry is the local stat sent (version 0), with one block: the digest of the
    // block list (protocol::blockListDigest()).
    using SentPuts = QList<std::pair<RelativePath, JournalEntry>>;
    // Its moves, kept the same way: the server's row at `to` moved from `from` is then
    // this computer's own move, not somebody else's (which wins over a delete here).
    // `entry` is the local stat sent, as for a put.
    struct SentMove
    {
        RelativePath from;
        RelativePath to;
        JournalEntry entry;
    };
    using SentMoves = QList<SentMove>;
    // `knownHead`: every server version up to it was known here when the Commit went out
    // (read, or answered to us): a row removed above it may be one this Commit made.
    void setSent(const SentPuts &puts, const SentMoves &moves = {}, quint64 knownHead = 0);
    SentPuts sent() const;
    SentMoves sentMoves() const;
    quint64 sentKnownHead() const;
    void clearSent();

    // Downloads about to be renamed into place, each with the journal entry it gets once
    // its rename is durable (the temp file's stat: a rename keeps it). Written before the
    // renames, replaced with the next batch: open() records those a crash left at their
    // path unrecorded, which the next cycle would take for new here (and bring back
    // after a delete elsewhere).
    using Landing = QList<std::pair<RelativePath, JournalEntry>>;
    void setLanding(const Landing &files);
    Landing landing() const;

    // Writes never fail silently: the first failure (a full disk, say) is kept here and
    // the engine stops the folder rather than go on with a journal that is not true.
    bool hasFailed() const { return !m_error.isEmpty(); }
    QString lastError() const { return m_error; }

    // Groups the writes of one finished batch in one transaction. The batch's entries
    // reach the in-memory copy (load()) at a successful commit(), all at once; after a
    // failed write in the batch the rest of it is not attempted, and commit() rolls
    // the whole batch back (SQLite and memory unchanged) and returns false.
    bool begin();
    bool commit();

private:
    QCborMap sentRecord() const; // the Commit in flight: its known head and its ops
    QCborArray sentList() const; // the stored puts and moves of the Commit in flight
    void adoptLanded(); // see setLanding()
    struct Statements;
    // An entry write, replayed on m_entries in order once SQLite has it.
    struct Change
    {
        enum Type { Put, Remove, RemoveTree, MoveTree, Clear } type;
        RelativePath path; // MoveTree: from
        RelativePath to;
        JournalEntry entry;
    };

    JournalState readEntries() const;
    bool canWrite(); // records why not: closed, or in a batch that already failed
    bool removeTreeRows(const RelativePath &path);
    void fail(const QString &message);
    void applied(Change change); // now in SQLite: to memory, or pending until commit()
    void apply(const Change &change);

    QString m_folder;
    QString m_connection;
    QSqlDatabase m_db;
    QString m_error;
    JournalState m_entries;
    // Prepared once per connection: the statements run per entry (SqliteStatement says
    // why not QSqlQuery). Finalized before the connection closes.
    std::unique_ptr<Statements> m_statements;
    bool m_inBatch = false;
    bool m_batchFailed = false;
    std::vector<Change> m_pending; // the batch's changes, for m_entries at commit()
};

} // namespace filesync
