#pragma once

#include "localentry.h"
#include "localfs.h"
#include "syncplan.h"

#include <QObject>
#include <QSet>

#include <vector>

namespace filesync {

class ServerConnection;
struct Done;
template<typename T> struct Reply;

// Sends local changes to the server: asks which blocks the server lacks for this
// account (QueryBlocks, up to 4,096 hashes a request), uploads only those (re-reading
// them from disk, hashed again only when the open file's stat differs from the scan's
// after the read, zstd when it pays, at most kWindowBytes and kMaxPutsInFlight
// requests in flight, starting after the first query's answer), and commits the ops in
// the plan's order, in batches under the metadata budget, one Commit in flight at a time. A batch
// goes as soon as every block of its ops is acknowledged (or was there already) and it
// holds kEarlyCommitOps ops or is full, so that the other computers start fetching while
// the rest is still uploading; the server makes the blocks durable before it commits.
// Each op's result comes back through opApplied / opConflict / opRejected.
// A put of a file whose journal entry is its base goes to the server as a delta
// against that base's block list (the base's blocks are not even queried: the account
// references them already), so editing a big file costs the changed blocks plus a short
// commit. Engine thread; owned by Propagator.
// Trusting the scan's hash: file times come from a coarse clock, so a write that lands in
// the same tick as the scan's read and the write before it leaves the stat unchanged. Its
// bytes then go with the scan's hash, the server refuses the block (and closes the
// connection) and the run fails; the next cycle re-scans. Never a commit of wrong
// content, since the server verifies every block.
class Uploader : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kWindowBytes = 32 * 1024 * 1024;
    // PutBlocks in flight, whatever their size: small files filled the byte window with
    // thousands of requests, each a send buffer and a pending reply (about 26 MB at
    // 100,000 files); 512 of them still keep a LAN busy (4 MiB of 8 KiB files).
    static constexpr int kMaxPutsInFlight = 512;
    static constexpr int kEarlyCommitOps = 256; // a smaller batch waits for more, unless it is the last
    // Files from this size are announced before their blocks go (Announce),
    // at most kMaxAnnounces a run (the receivers prefetch only a few at a time anyway);
    // not puts sent as a delta (an edit: the whole list would cost more than the change).
    static constexpr qint64 kAnnounceMinBytes = 8 * 1024 * 1024;
    static constexpr int kMaxAnnounces = 64;

    // What the Uploader keeps of one MoveRemote, DeleteRemote or Upload action: about half
    // of a SyncAction (its remote state, conflict copy and version are never used by an
    // upload, and a move's source is kept aside). One per changed file: the
    // SyncActions were the biggest single part of the uploading client's memory peak.
    struct Op
    {
        ActionType type = ActionType::Upload;
        protocol::EntryKind kind = protocol::EntryKind::File;
        bool hasLocal : 1 = false; // the fields below the path are the scan's LocalEntry
        bool readAfterCtime : 1 = false; // LocalEntry's, in the same byte (Op stays 120 bytes)
        protocol::EntryKind localKind = protocol::EntryKind::File;
        quint32 mode = 0;
        RelativePath path;
        quint64 base = 0;
        qint64 size = 0;
        qint64 mtimeNs = 0;
        quint64 inode = 0;
        qint64 ctimeNs = 0;
        QList<protocol::BlockRef> blocks;
        QByteArray blockChecks;

        // Takes the action's path, lists and strings (shared, not copied); `from` is not
        // kept here (see Uploader::run).
        static Op from(SyncAction &&a);
        LocalEntry local() const;
    };

    Uploader(const QString &root, ServerConnection &connection, QObject *parent = nullptr);
    ~Uploader() override;
    // MoveRemote, DeleteRemote, Upload, in the plan's order; `journal` holds the bases of
    // the ops. `moveSources` holds each MoveRemote's `from`, by its index in `ops`.
    void run(std::vector<Op> ops, QHash<int, RelativePath> moveSources, const JournalState &journal);
    // The same from actions (tests, small runs): converted first.
    void run(const QList<SyncAction> &ops, const JournalState &journal);
    void abort();

    // When the run's commits advanced the server's head from `from` to `to` and every
    // version in between is a row this run wrote and reported through opApplied (so the
    // journal holds it): the caller may move its cursor over them instead of reading its
    // own changes back. Absent when another session's commit, a server that does not
    // report `prev` or a row we did not journal (implicit parents, moved children) is in
    // between.
    struct OwnAdvance
    {
        quint64 from = 0;
        quint64 to = 0;
    };
    std::optional<OwnAdvance> ownAdvance() const;
    // The server's head in the latest Commit answer of this run (0 before any).
    quint64 answeredHead() const { return m_answeredHead; }

    // This run's block reads: taken on the scan's word (its stat unchanged around the
    // read) and hashed again (the stat moved). For tests and logs.
    int trustedReads() const { return m_trustedReads; }
    int peakPutsInFlight() const { return m_peakPuts; }
    int hashedReads() const { return m_hashedReads; }
    int batchesSent() const { return m_batchesSent; } // PutBlocks requests

Q_SIGNALS:
    void opApplied(const filesync::SyncAction &action, quint64 version);
    // The server holds `current` at the path, not our base: nothing was changed.
    void opConflict(const filesync::SyncAction &action, quint64 current);
    void opRejected(const filesync::SyncAction &action, const QString &reason);
    // Around the op signals of one Commit reply, so that their journal writes can go in
    // one transaction (one WAL append and lock round instead of one per file).
    void resultsStarting();
    void resultsDone();
    // Right before a Commit goes out: its puts (files and folders) and moves, with their
    // local stat.
    void committing(const QList<filesync::SyncAction> &ops);
    void bytesDone(qint64 bytes);
    void finished(bool complete);

private:
    // One distinct block the run may upload: where it is on disk (its first use) and
    // which ops wait for it. A flat array sorted by hash with the waiting ops in one
    // shared array, instead of hash tables keyed by ContentHash (a node, a bucket and a
    // waiter list per block: about 110 bytes a block).
    enum class BlockState : quint8 {
        Pending, // not asked about yet
        Asked, // in the QueryBlocks under way
        Missing, // to be sent, or being sent
        Resolved, // the server has it (or it cannot be sent): its waiters were counted down
    };
    struct Block // 56 bytes
    {
        ContentHash hash;
        BlockState state = BlockState::Pending;
        int op = 0; // index in m_ops of its first use
        quint32 size = 0;
        // m_waiterOps from here to the next block's waitersBegin: the ops that wait for it.
        int waitersBegin = 0;
        qint64 offset = 0;
    };

    void planBlocks(const JournalState &journal);
    void announceBigFiles();
    int findBlock(const ContentHash &hash) const; // index in m_blocks, or -1
    void queryNext();
    void pumpBlocks();
    // A block read and sent, until its PutBlock(s) is answered.
    struct Sent
    {
        int block = 0; // index in m_blocks
        int op = 0; // the op it was read from
        qint64 size = 0;
        bool provesRead = false; // see readBlock()
    };
    struct Batch // blocks gathered for one PutBlocks
    {
        protocol::BlockBatch payloads;
        std::vector<Sent> sent;
        qint64 bytes = 0; // encoded
    };
    void sendBatch(Batch batch);
    void onPut(const std::vector<Sent> &sent, const Reply<Done> &reply);
    void resolve(int block); // the server has it now (or it cannot be sent)
    void maybeCommit();
    protocol::CommitOp commitOpFor(int index) const;
    SyncAction actionFor(int index) const; // for the signals
    void noteAdvance(const protocol::CommitReply &reply);
    void fail(const QString &reason);
    // The block's bytes, if they are still what the scan hashed (false: the file changed).
    // `provesRead`: the block is the whole file, read clearly after its ctime with the
    // scan's stat unchanged after the read, so once the server has verified these bytes
    // the op's entry may carry readAfterCtime (the racy rule's proof; see the .cpp).
    bool readBlock(const Block &block, QByteArray &out, bool &provesRead, localfs::FolderCache &folders);
    void closeReadFile();

    QString m_root;
    ServerConnection &m_connection;
    std::vector<Op> m_ops;
    QHash<int, RelativePath> m_moveSources; // MoveRemote's `from`, by op index
    std::vector<Block> m_blocks; // sorted by hash, each hash once
    std::vector<int> m_waiterOps;
    std::vector<int> m_toQuery; // block indexes, in the order of their first use
    size_t m_queryAt = 0; // m_toQuery before it was asked
    std::vector<int> m_toSend; // block indexes the server lacks, in the order it answered
    size_t m_sendAt = 0; // m_toSend before it was read and sent
    std::vector<int> m_unresolved; // per op: blocks it waits for
    int m_readyEnd = 0; // ops before it wait for no block
    QSet<int> m_broken; // ops whose file changed since the scan: not committed now
    QHash<int, protocol::BlockListDelta> m_deltas; // puts sent as a delta
    // Paths whose delta the server refused (its base differs from our journal's): the
    // next runs send their full list, until one is applied.
    QSet<RelativePath> m_noDelta;
    std::optional<OwnAdvance> m_advance;
    quint64 m_answeredHead = 0;
    bool m_advanceBroken = false;
    int m_commitAt = 0;
    qint64 m_inFlight = 0;
    int m_putsPending = 0;
    bool m_committing = false; // a Commit is in flight
    bool m_complete = true;
    bool m_running = false;
    int m_generation = 0;
    // The file the last block was read from, kept open for the next block of the same op
    // (a 1 GiB file is 13,570 blocks: one open instead of one per block).
    int m_readOp = -1;
    int m_readFd = -1;
    int m_trustedReads = 0;
    int m_hashedReads = 0;
    int m_peakPuts = 0;
    int m_batchesSent = 0;
};

} // namespace filesync
