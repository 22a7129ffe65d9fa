#include "hashpipeline.h"

#include "chunker.h"

#include <QBuffer>
#include <QFileDevice>
#include <QThreadPool>

#include <cerrno>
#include <cstring>

#include <unistd.h>

namespace filesync {

HashPipeline::HashPipeline(QIODevice &device, qint64 size, qint64 maxBlock, QThreadPool *helper)
    : m_device(device)
    , m_size(size)
    , m_capacity(qMin(size, maxBlock + kReadSize))
{
    for (auto &slot : m_slots)
        slot.buffer.resize(0);
    // Where a range check finds the bytes without the cutter's buffers: pread() on the
    // file (which moves no offset), or the buffer's own memory.
    if (auto *file = qobject_cast<QFileDevice *>(&device))
        m_fd = file->handle();
    else if (auto *buffer = qobject_cast<QBuffer *>(&device); buffer && buffer->data().size() >= size)
        m_direct = buffer->data().constData();
    if (helper) {
        m_pool = helper;
        m_helper.reset(QRunnable::create([this] { hashLoop(); }));
        m_helper->setAutoDelete(false);
        m_pool->start(m_helper.get());
    }
}

QString HashPipeline::ensure(qint64 pos, qint64 len)
{
    len = qMin(len, m_size - pos);
    if (pos >= m_start && pos + len <= m_start + m_filled)
        return {};
    const int next = (m_current + 1) % kSlots;
    {
        // While the buffer to refill is still being hashed, help hash it (the
        // hashing thread is the slower of the two when SHA-256 runs below the cutter).
        std::unique_lock lock(m_mutex);
        while (m_slots[next].pending > 0) {
            if (m_jobs.empty()) {
                m_cond.wait(lock);
                continue;
            }
            runNext(lock, 0);
        }
    }
    std::vector<char> &to = m_slots[next].buffer;
    if (qint64(to.size()) < m_capacity)
        to.resize(size_t(m_capacity));
    qint64 kept = 0;
    if (pos >= m_start && pos < m_start + m_filled) {
        kept = m_start + m_filled - pos;
        std::memcpy(to.data(), m_slots[m_current].buffer.data() + (pos - m_start), size_t(kept));
    } else if (pos != m_start + m_filled && !m_device.seek(pos)) {
        // Past blocks checked by range, or back to one whose check failed.
        return QStringLiteral("cannot read at %1: %2").arg(pos).arg(m_device.errorString());
    }
    const qint64 want = qMin(m_capacity, m_size - pos);
    while (kept < want) {
        const qint64 n = m_device.read(to.data() + kept, want - kept);
        if (n < 0)
            return QStringLiteral("read error: %1").arg(m_device.errorString());
        if (n == 0)
            return QStringLiteral("the file changed while it was read");
        kept += n;
    }
    m_current = next;
    m_start = pos;
    m_filled = kept;
    return {};
}

void HashPipeline::checkRange(qint64 pos, std::vector<Piece> &&pieces, qint64 bytes)
{
    std::unique_lock lock(m_mutex);
    ++m_checksPending;
    ++m_rangesQueued;
    m_jobs.push_back(Job { -1, pos, bytes, 0, std::move(pieces) });
    m_cond.notify_all();
    while (m_rangesQueued > 1)
        runNext(lock, 0);
}

qsizetype HashPipeline::settleChecks()
{
    std::unique_lock lock(m_mutex);
    while (m_checksPending > 0) {
        if (m_jobs.empty())
            m_cond.wait(lock);
        else
            runNext(lock, 0);
    }
    return m_failedCheck.exchange(-1);
}

bool HashPipeline::grew()
{
    if (m_device.pos() != m_size && !m_device.seek(m_size)) // after blocks checked by range
        return false;
    char byte;
    return m_device.read(&byte, 1) > 0;
}

void HashPipeline::hash(qint64 pos, qint64 len, qsizetype index)
{
    const Job job { m_current, pos - m_start, len, index };
    if (!m_helper) {
        m_done.push_back(run(job, 0));
        return;
    }
    std::lock_guard lock(m_mutex);
    ++m_slots[m_current].pending;
    m_jobs.push_back(job);
    m_cond.notify_all();
}

std::vector<HashPipeline::Done> &HashPipeline::finish()
{
    if (m_helper) {
        std::unique_lock lock(m_mutex);
        m_closed = true;
        m_cond.notify_all();
        if (m_pool->tryTake(m_helper.get())) {
            // It never started (its pool was busy): what is left is done here.
            while (!m_jobs.empty())
                runNext(lock, 0);
        } else {
            m_cond.wait(lock, [this] { return m_helperDone; });
        }
        lock.unlock();
        m_helper.reset();
    }
    return m_done;
}

// `who`: 0 the cutter, 1 the hashing thread (each reads ranges into its own buffer).
HashPipeline::Done HashPipeline::run(const Job &job, int who)
{
    if (job.slot < 0)
        return Done { runRange(job, who), ContentHash(), 0 };
    const char *data = m_slots[job.slot].buffer.data() + job.offset;
    Sha256 sha;
    sha.addData(QByteArrayView(data, job.length));
    return Done { job.index, sha.result(), Chunker::checkOf(QByteArrayView(data, job.length)) };
}

// The index of the range's first block whose bytes do not match its check, or -1.
qsizetype HashPipeline::runRange(const Job &job, int who)
{
    const char *data = m_direct ? m_direct + job.offset : nullptr;
    qint64 got = job.length;
    if (!data) {
        std::vector<char> &buffer = m_rangeBuffers[size_t(who)];
        if (qint64(buffer.size()) < job.length)
            buffer.resize(size_t(qMax(job.length, m_capacity)));
        got = 0;
        while (got < job.length) {
            const ssize_t n = ::pread(m_fd, buffer.data() + got, size_t(job.length - got), off_t(job.offset + got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break; // shorter than it was: the blocks past `got` fail, the cutter reads there
            got += n;
        }
        data = buffer.data();
    }
    qint64 at = 0;
    for (const Piece &piece : job.pieces) {
        if (at + piece.length > got || Chunker::checkOf(QByteArrayView(data + at, piece.length)) != piece.expected)
            return piece.index;
        at += piece.length;
    }
    return -1;
}

void HashPipeline::hashLoop()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        m_cond.wait(lock, [&] { return m_closed || !m_jobs.empty(); });
        if (m_jobs.empty()) {
            m_helperDone = true;
            m_cond.notify_all();
            return;
        }
        runNext(lock, 1);
    }
}

// The oldest job, run without the lock (the cutter's help and the hashing thread
// take jobs the same way); `lock` holds m_mutex before and after.
void HashPipeline::runNext(std::unique_lock<std::mutex> &lock, int who)
{
    const Job job = std::move(m_jobs.front());
    m_jobs.pop_front();
    if (job.slot < 0)
        --m_rangesQueued;
    lock.unlock();
    Done done = run(job, who);
    lock.lock();
    finished(job, std::move(done));
}

// With m_mutex held.
void HashPipeline::finished(const Job &job, Done &&done)
{
    if (job.slot >= 0) {
        m_done.push_back(std::move(done));
        --m_slots[job.slot].pending;
    } else {
        --m_checksPending;
        const qsizetype failed = m_failedCheck.load(std::memory_order_relaxed);
        if (done.index >= 0 && (failed < 0 || done.index < failed))
            m_failedCheck.store(done.index, std::memory_order_relaxed);
    }
    m_cond.notify_all();
}

} // namespace filesync
