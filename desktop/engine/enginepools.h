#pragma once

#include <QMutex>
#include <QThreadPool>
#include <QWaitCondition>
#include <QtConcurrent>

#include <functional>
#include <memory>
#include <optional>

namespace filesync {

// The worker threads of the engine: a pool per kind of job. Made by a SyncEngine for
// itself, or once by a process that runs several engines (tests/sim) and lent to each of
// them, so that their threads stay as few as one engine's. The destructor waits for
// every job (by then every engine that used it is gone).
class WorkerPools
{
public:
    WorkerPools();
    ~WorkerPools();
    Q_DISABLE_COPY_MOVE(WorkerPools)

    // Scans (with their hashing), a download's local block copies, and the batches of
    // the group commit: one thread a core.
    QThreadPool work;
    // The chunker's second thread, hashing a big file while the scan cuts it: one (a scan
    // that finds it busy, another engine's, cuts and hashes on its own thread).
    QThreadPool hashing;
    // The fdatasync()s of one batch, several at once (a thread waiting for the disk costs
    // no CPU, and syncs that wait together share the device's cache flushes).
    QThreadPool sync;
    // Write-back starts and the release of big replaced files, in order (both may block
    // on the disk): one.
    QThreadPool writeBack;
    // Received blocks verified and written (BlockWriter): two.
    QThreadPool blockWriter;

    static constexpr int kSyncThreads = 8;
};

// One engine's view of the worker pools: every job the engine queues goes through it and
// is counted, so the engine's end waits for its own work and nothing of it runs on
// afterwards, whether the pools are its own or the process's. The users cancel their
// work first (the scan and the local copies check a flag; SyncCycle::abort and
// Downloader::abort wait for them); the rest is short (a block's write, a batch's syncs,
// a write-back start, a close). Made by SyncEngine, destroyed after everything in it that
// queues work; handed to the others by reference. Engine thread.
class EnginePools
{
public:
    EnginePools(); // with pools of its own
    explicit EnginePools(WorkerPools &shared);
    ~EnginePools(); // waits for this engine's jobs
    Q_DISABLE_COPY_MOVE(EnginePools)

    QThreadPool &work() { return m_pools.work; }
    QThreadPool &hashing() { return m_pools.hashing; } // used by the Chunker, which waits for its job itself
    QThreadPool &sync() { return m_pools.sync; } // used by a batch, which waits for its syncs itself
    QThreadPool &writeBack() { return m_pools.writeBack; }
    QThreadPool &blockWriter() { return m_pools.blockWriter; }

    // QtConcurrent::run() on `pool`, counted as this engine's until the job is over.
    template<typename Function> auto run(QThreadPool &pool, Function &&function)
    {
        return QtConcurrent::run(
            &pool, [job = counted(), function = std::forward<Function>(function)]() mutable { return function(); });
    }
    // QThreadPool::start() on `pool`, counted the same way.
    void start(QThreadPool &pool, std::function<void()> job);
    // Waits until none of this engine's jobs is queued or running.
    void waitForDone();

private:
    struct Jobs
    {
        QMutex mutex;
        QWaitCondition idle;
        int count = 0;
    };
    // Counts one job while a copy of it lives (inside the job's task).
    std::shared_ptr<void> counted();

    std::optional<WorkerPools> m_own; // made by the default constructor
    WorkerPools &m_pools;
    std::shared_ptr<Jobs> m_jobs = std::make_shared<Jobs>();
};

} // namespace filesync
