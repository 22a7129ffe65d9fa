#pragma once

#include <QThreadPool>

namespace filesync {

// Every worker thread of one SyncEngine: made by it, handed by reference to whoever
// queues work, and destroyed after all of them. Nothing else in the engine starts a
// thread, so stopping the engine stops all of its work: the users cancel theirs first
// (the scan and the local copies check a flag, SyncCycle::abort and Downloader::abort wait
// for them), then the destructor waits for what is left, each job short (a block's write,
// a batch's syncs, a write-back start, a close). Each engine has its own pools: one engine
// never waits for another's work, and a stopped engine leaves nothing running behind it.
// Threads idle for 5 s end. Engine thread.
class EnginePools
{
public:
    EnginePools();
    ~EnginePools();
    Q_DISABLE_COPY_MOVE(EnginePools)

    // Scans (with their hashing), a download's local block copies, and the batches of
    // the group commit: one thread a core.
    QThreadPool &work() { return m_work; }
    // The chunker's second thread, hashing a big file while the scan cuts it: one (one
    // scan at a time).
    QThreadPool &hashing() { return m_hashing; }
    // The fdatasync()s of one batch, several at once (concurrent syncs share the device's
    // cache flushes): kSyncThreads.
    QThreadPool &sync() { return m_sync; }
    // Write-back starts and the release of big replaced files, in order (both may block
    // on the disk): one.
    QThreadPool &writeBack() { return m_writeBack; }
    // Received blocks verified and written (BlockWriter): two.
    QThreadPool &blockWriter() { return m_blockWriter; }

    static constexpr int kSyncThreads = 8;

    // Waits until no pool has work: the users first (their jobs queue on the others).
    void waitForDone();

private:
    QThreadPool m_work;
    QThreadPool m_hashing;
    QThreadPool m_sync;
    QThreadPool m_writeBack;
    QThreadPool m_blockWriter;
};

} // namespace filesync
