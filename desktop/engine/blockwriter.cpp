#include "blockwriter.h"

#include "blockcodec.h"
#include "chunker.h"
#include "enginepools.h"

#include <QCoreApplication>
#include <QDeadlineTimer>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace filesync {

namespace {
std::function<void()> s_beforePoolWriteForTests;
} // namespace

void BlockWriter::Gate::close()
{
    QWriteLocker lock(&m_lock);
    m_open = false;
}

BlockWriter::BlockWriter(EnginePools &pools, QObject *context)
    : m_pools(pools)
    , m_context(context)
    , m_replyTo(context)
{ }

BlockWriter::~BlockWriter() = default;

BlockWriter::Outcome BlockWriter::verifyAndWrite(
    const protocol::BlockPayload &payload, const QList<Target> &targets, bool wantCheck, Gate *gate)
{
    Outcome outcome;
    outcome.writeErrors.fill(0, targets.size());
    const auto raw = protocol::decodeAndVerify(payload);
    if (!raw) {
        outcome.error = raw.errorMessage();
        return outcome;
    }
    outcome.size = raw->size();
    if (wantCheck)
        outcome.check = Chunker::checkOf(*raw);
    std::optional<QReadLocker> open;
    if (gate)
        open.emplace(&gate->m_lock);
    const bool closed = gate && !gate->m_open;
    for (qsizetype i = 0; i < targets.size(); ++i) {
        const Target &t = targets.at(i);
        errno = 0;
        if (t.fd < 0 || closed)
            outcome.writeErrors[i] = EBADF;
        else if (::pwrite(t.fd, raw->constData(), size_t(raw->size()), off_t(t.offset)) != raw->size())
            outcome.writeErrors[i] = errno ? errno : ENOSPC; // a short write: the disk is full
    }
    return outcome;
}

void BlockWriter::write(const protocol::BlockPayload &payload, const QList<Target> &targets, bool wantCheck,
    std::function<void(const Outcome &)> done, std::shared_ptr<Gate> gate)
{
    // A small block costs less to hash and write than to hand to another thread.
    if (payload.data.size() < kPoolFromBytes)
        return done(verifyAndWrite(payload, targets, wantCheck, gate.get()));
    QList<Target> own = targets;
    for (Target &t : own)
        t.fd = t.fd >= 0 ? ::fcntl(t.fd, F_DUPFD_CLOEXEC, 0) : -1;
    {
        QMutexLocker lock(&m_running->mutex);
        ++m_running->jobs;
    }
    m_pools.start(m_pools.blockWriter(),
        [payload, own, wantCheck, replyTo = m_replyTo.handle(), done = std::move(done), gate = std::move(gate),
            running = m_running, hook = s_beforePoolWriteForTests] {
            if (hook)
                hook();
            const Outcome outcome = verifyAndWrite(payload, own, wantCheck, gate.get());
            for (const Target &t : own) {
                if (t.fd >= 0)
                    ::close(t.fd);
            }
            replyTo.post([done, outcome] { done(outcome); });
            QMutexLocker lock(&running->mutex);
            --running->jobs;
            running->finished.wakeAll();
        });
}

void BlockWriter::flush()
{
    {
        QMutexLocker lock(&m_running->mutex);
        if (m_running->jobs == 0)
            return;
        QDeadlineTimer deadline(10 * 1000); // a job is one block's hash and write
        while (m_running->jobs > 0 && !deadline.hasExpired())
            m_running->finished.wait(&m_running->mutex, deadline);
    }
    QCoreApplication::sendPostedEvents(m_context, QEvent::MetaCall);
}

void BlockWriter::setBeforePoolWriteForTests(std::function<void()> hook)
{
    s_beforePoolWriteForTests = std::move(hook);
}

} // namespace filesync
