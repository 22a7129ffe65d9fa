#pragma once

#include "blockwriter.h"
#include "enginepools.h"
#include "messages.h"

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QTimer>

#include <memory>
#include <optional>
#include <vector>

namespace filesync {

class Journal;
class ServerConnection;

// Fetches the blocks of a file another session announced (it is uploading
// them) into a temporary file in .filesync/tmp, while they arrive on the server, so that
// when the commit lands the Downloader only has to adopt the file (take()), fetch what is
// still missing, sync and rename it. Never writes outside .filesync/tmp: an announce is a
// hint, not a change, and the file reaches its final path only through the Downloader's
// usual checks. Each block is verified against its hash before it is written.
//
// Bounded: files of at least kMinBytes only, at most kMaxFiles at once, at most
// kWindowBytes of requests in flight (GetBlock{wait}, each answered by the server within
// its own bound); blocks found in any file the journal knows are left to the
// Downloader's local copies. A prefetch is dropped (its temp file removed) when the same
// path is announced again, when the committed list differs, when a write fails (a full
// disk), when nobody claims it within kKeepMs of its last block, and when this object
// ends (with its connection). A crash leaves a temp file that Journal::open() removes.
//
// Engine thread (its blocks are written on the engine's pools); a child of the
// ServerConnection it fetches over (SyncEngine makes one per connection).
class Prefetcher : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 kMinBytes = 8 * 1024 * 1024;
    static constexpr int kMaxFiles = 4;
    static constexpr qint64 kWindowBytes = 32 * 1024 * 1024;
    static constexpr int kKeepMs = 60 * 1000;

    Prefetcher(const QString &root, Journal &journal, ServerConnection &connection, EnginePools &pools,
        QObject *parent = nullptr);
    ~Prefetcher() override; // removes every temp file nobody took

    // A prefetched temp file for exactly this block list at `path`: the caller owns the
    // file from now on; `written[i]` says whether block i is in it (verified). Any other
    // prefetch of `path` is dropped.
    struct Taken
    {
        QString tempPath;
        QList<bool> written;
        qint64 writtenBytes = 0;
    };
    std::optional<Taken> take(const RelativePath &path, const QList<protocol::BlockRef> &blocks);
    // The commit of exactly this block list at `path` has come: no further requests are
    // made for it. True while some of its requests are still under way (the Downloader
    // would fetch those blocks a second time if it took the file now): settled() follows
    // once the last of them is answered and written, or the file is dropped. False when
    // there is nothing to wait for: take() it.
    bool settle(const RelativePath &path, const QList<protocol::BlockRef> &blocks);

    void onAnnounced(const protocol::Announce &announce);

    // For tests and logs.
    int activeFiles() const { return int(m_files.size()); }
    quint64 blocksFetched() const { return m_fetched; }
    void setKeepMs(int milliseconds) { m_keepMs = milliseconds; }

Q_SIGNALS:
    void blockWritten(); // for tests: a prefetched block is in its temp file
    void settled(); // a file settle() said was busy has no request under way any more

private:
    struct File
    {
        quint64 id = 0;
        RelativePath path;
        QList<protocol::BlockRef> blocks;
        QList<qint64> offsets;
        QList<bool> written;
        QHash<ContentHash, QList<int>> indexes; // hash -> the block indexes it fills
        QList<int> toFetch; // first index of each distinct block not found locally
        qsizetype next = 0; // in toFetch
        QString tempPath;
        int fd = -1;
        qint64 unflushed = 0;
        qint64 lastActivity = 0; // on m_clock (monotonic)
        bool settling = false; // committed: no new requests, settled() once none is left
        std::shared_ptr<BlockWriter::Gate> gate = std::make_shared<BlockWriter::Gate>();
    };
    File *find(quint64 id) const;
    void pump();
    void writeBlock(
        quint64 fileId, quint64 request, const protocol::BlockRef &block, const protocol::BlockPayload &payload);
    void onWritten(quint64 fileId, const QList<int> &indexes, const BlockWriter::Outcome &outcome);
    void discard(quint64 id);
    void forgetRequests(quint64 fileId);
    bool hasRequests(quint64 fileId) const;
    void checkSettled(quint64 fileId); // after one of the file's requests ended
    void expire();

    QString m_root;
    QString m_tmpDir;
    Journal &m_journal;
    ServerConnection &m_connection;
    EnginePools &m_pools;
    std::vector<std::unique_ptr<File>> m_files; // in announce order
    quint64 m_nextId = 0;
    // Requests under way, by a number of ours: the file and size each counts against the
    // window. A dropped or taken file's requests leave the window at once (their late
    // replies are ignored), so an announce that never uploads does not hold the others up
    // until the server's wait runs out.
    struct Request
    {
        quint64 file = 0;
        qint64 bytes = 0;
    };
    QHash<quint64, Request> m_requests;
    quint64 m_nextRequest = 0;
    qint64 m_inFlight = 0;
    quint64 m_fetched = 0;
    int m_keepMs = kKeepMs;
    QTimer m_expiry;
    QElapsedTimer m_clock; // started at construction
    BlockWriter m_writer { m_pools, this }; // declared last, destroyed first: no callback after the rest
};

} // namespace filesync
