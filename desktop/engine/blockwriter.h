#pragma once

#include "messages.h"
#include "replyto.h"

#include <QList>
#include <QMutex>
#include <QObject>
#include <QReadWriteLock>
#include <QWaitCondition>

#include <functional>
#include <memory>
#include <optional>

namespace filesync {

class EnginePools;

// Received blocks verified against their hashes and written into temp files off the
// engine thread: there, SHA-256 and pwrite() of each block kept it from reading the next
// ones.
//
// write() takes a duplicate of each target's descriptor at once, so the caller may close
// or fail its file while the job runs: a late write then lands in a file that is already
// unlinked, never in another file that reused the number. `done` runs on the context's
// thread (the engine thread), never after the BlockWriter is destroyed: at once, inside
// write(), for a block under kPoolFromBytes; otherwise later, from the engine's
// blockWriter pool (two threads: the machines this targets have two cores), whose owner
// waits for these jobs before it goes.
class BlockWriter
{
public:
    struct Target
    {
        int fd = -1;
        qint64 offset = 0;
    };

    struct Outcome
    {
        QString error; // the block itself was bad (hash, codec): nothing was written
        QList<int> writeErrors; // per target: 0, or the errno of its failed write
        std::optional<quint64> check; // Chunker::checkOf() of the bytes, when asked for
        qint64 size = 0; // of the raw bytes

        bool verified() const { return error.isEmpty(); }
    };

    // Closed by whoever gives the target files away: after close() returns, no job writes
    // into them any more (a job that gets the block later reports EBADF instead).
    class Gate
    {
    public:
        void close();

    private:
        friend class BlockWriter;
        QReadWriteLock m_lock; // jobs write under the read lock, close() takes the write lock
        bool m_open = true;
    };

    static constexpr qsizetype kPoolFromBytes = 32 * 1024; // smaller blocks: on the caller's thread

    BlockWriter(EnginePools &pools, QObject *context);
    ~BlockWriter();
    Q_DISABLE_COPY_MOVE(BlockWriter)

    void write(const protocol::BlockPayload &payload, const QList<Target> &targets, bool wantCheck,
        std::function<void(const Outcome &)> done, std::shared_ptr<Gate> gate = {});

    // Waits (bounded) for every job under way and runs their `done` now, on the caller's
    // (the context's) thread: for the owner that is about to give its files away and must
    // know first what is in them. Also delivers any other queued call to the context.
    void flush();

    // For tests: called on the pool before each block is verified and written there (a
    // slow disk). Not thread-safe: set it while no block is written.
    static void setBeforePoolWriteForTests(std::function<void()> hook);

private:
    static Outcome verifyAndWrite(
        const protocol::BlockPayload &payload, const QList<Target> &targets, bool wantCheck, Gate *gate);

    struct Running
    {
        QMutex mutex;
        QWaitCondition finished;
        int jobs = 0; // queued or running, not yet posted
    };
    std::shared_ptr<Running> m_running = std::make_shared<Running>();
    EnginePools &m_pools;
    QObject *m_context;
    ReplyTo m_replyTo;
};

} // namespace filesync
