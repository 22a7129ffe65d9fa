#include "enginepools.h"

namespace filesync {

namespace {
void setUp(QThreadPool &pool, int maxThreads)
{
    pool.setMaxThreadCount(maxThreads);
    pool.setExpiryTimeout(5000);
}
} // namespace

WorkerPools::WorkerPools()
{
    setUp(work, QThread::idealThreadCount());
    setUp(hashing, 1);
    setUp(sync, kSyncThreads);
    setUp(writeBack, 1);
    setUp(blockWriter, 2);
}

WorkerPools::~WorkerPools()
{
    // A scan waits for its hashing job, a batch for its syncs: their pools after them.
    work.waitForDone();
    hashing.waitForDone();
    sync.waitForDone();
    blockWriter.waitForDone();
    writeBack.waitForDone();
}

EnginePools::EnginePools()
    : m_own(std::in_place)
    , m_pools(*m_own)
{ }

EnginePools::EnginePools(WorkerPools &shared)
    : m_pools(shared)
{ }

EnginePools::~EnginePools()
{
    waitForDone();
}

std::shared_ptr<void> EnginePools::counted()
{
    {
        QMutexLocker lock(&m_jobs->mutex);
        ++m_jobs->count;
    }
    return std::shared_ptr<void>(nullptr, [jobs = m_jobs](void *) {
        QMutexLocker lock(&jobs->mutex);
        if (--jobs->count == 0)
            jobs->idle.wakeAll();
    });
}

void EnginePools::start(QThreadPool &pool, std::function<void()> job)
{
    pool.start([counted = counted(), job = std::move(job)] { job(); });
}

void EnginePools::waitForDone()
{
    QMutexLocker lock(&m_jobs->mutex);
    while (m_jobs->count > 0)
        m_jobs->idle.wait(&m_jobs->mutex);
}

} // namespace filesync
