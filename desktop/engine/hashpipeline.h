#pragma once

#include "contenthash.h"

#include <QRunnable>
#include <QString>

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

class QIODevice;
class QThreadPool;

namespace filesync {

// The Chunker's reading and hashing, for one file (Chunker::pass). The chunker reads into
// a ring of buffers; a block is always contiguous in one of them (each holds maxSize plus
// the read size), so its SHA-256 and check can be computed later on the hashing thread
// while the next cuts are found. A buffer is refilled only when no queued block points
// into it: at most kSlots buffers are in memory.
//
// The cutter's thread (the scan's), plus one job on the hashing pool while it lives (or
// none: then it hashes on the cutter's thread). Made and owned by Chunker::pass.
class HashPipeline
{
public:
    static constexpr int kSlots = 3;
    static constexpr qint64 kReadSize = 4 * 1024 * 1024;

    // An old block kept on trust, to be checked (checkRange()).
    struct Piece
    {
        qint64 length;
        quint64 expected; // its recorded check
        qsizetype index; // in the block list
    };
    struct Job
    {
        int slot; // -1: a range to check (checkRange()), read by the thread that runs it
        qint64 offset; // in the slot; of a range: in the file
        qint64 length;
        qsizetype index; // in the block list
        std::vector<Piece> pieces = {}; // of a range, in order from `offset`
    };
    struct Done
    {
        qsizetype index;
        ContentHash hash;
        quint64 check;
    };

    // `helper`: the pool of the hashing thread, or null to hash on the calling thread.
    HashPipeline(QIODevice &device, qint64 size, qint64 maxBlock, QThreadPool *helper);
    ~HashPipeline() { finish(); }

    // Makes [pos, pos + len) (cut at the file's end) contiguous in memory, reading ahead.
    // An empty string on success, else the error.
    QString ensure(qint64 pos, qint64 len);
    const char *at(qint64 pos) const { return m_slots[m_current].buffer.data() + (pos - m_start); }

    // Whether checkRange() can be used: a hashing thread, and bytes it can read itself.
    bool canCheckRanges() const { return m_helper && (m_fd >= 0 || m_direct); }
    // Queues the check of old blocks kept on trust, `pieces` from `pos` on (`bytes` in
    // all), which the thread that runs it reads itself: an unchanged file is then read
    // and checked on both cores (with more than one range waiting, the cutter runs one).
    // The first block that failed: failedCheck().
    void checkRange(qint64 pos, std::vector<Piece> &&pieces, qint64 bytes);
    // The lowest block index whose check failed so far (-1: none); a hint while checks
    // are pending, exact after settleChecks().
    qsizetype failedCheck() const { return m_failedCheck.load(std::memory_order_relaxed); }
    // Waits for every queued check (helping with them); then failedCheck() is exact, and
    // is reset by the call after this one's answer.
    qsizetype settleChecks();

    // Whether the device has more than `size` bytes (it grew while it was read).
    bool grew();

    // Queues the SHA-256 and check of [pos, pos + len), which ensure() made available.
    void hash(qint64 pos, qint64 len, qsizetype index);

    // Waits for every queued hash; the results, in any order.
    std::vector<Done> &finish();

private:
    struct Slot
    {
        std::vector<char> buffer;
        int pending = 0; // queued jobs that point into it
    };
    Done run(const Job &job, int who);
    qsizetype runRange(const Job &job, int who);
    void hashLoop();
    void runNext(std::unique_lock<std::mutex> &lock, int who);
    void finished(const Job &job, Done &&done);

    QIODevice &m_device;
    const qint64 m_size;
    const qint64 m_capacity;
    std::array<Slot, kSlots> m_slots;
    int m_current = 0;
    qint64 m_start = 0;
    qint64 m_filled = 0;
    std::mutex m_mutex;
    std::condition_variable m_cond;
    std::deque<Job> m_jobs; // a short queue: bounded by the slots
    std::vector<Done> m_done;
    int m_fd = -1;
    const char *m_direct = nullptr;
    std::array<std::vector<char>, 2> m_rangeBuffers; // the cutter's, the hashing thread's
    int m_checksPending = 0;
    int m_rangesQueued = 0; // range jobs not started yet
    std::atomic<qsizetype> m_failedCheck { -1 };
    bool m_closed = false;
    QThreadPool *m_pool = nullptr;
    std::unique_ptr<QRunnable> m_helper; // runs hashLoop() on m_pool
    bool m_helperDone = false; // hashLoop() returned
};

} // namespace filesync
